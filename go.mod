module github.com/mmls-chat/mmls-chat

go 1.26.0

require (
	github.com/cisco/go-mls v0.0.0-20210331162924-158a3829b839
	github.com/cisco/go-tls-syntax v0.0.0-20200615170901-cc95af012391
	github.com/grandcat/zeroconf v1.0.1-0.20230119201135-e4f60f8407b1
	go.etcd.io/bbolt v1.5.0
)

require (
	git.schwanenlied.me/yawning/x448.git v0.0.0-20170617130356-01b048fb03d6 // indirect
	github.com/cenkalti/backoff v2.2.1+incompatible // indirect
	github.com/cisco/go-hpke v0.0.0-20200603153819-0a6c8374cd9a // indirect
	github.com/cloudflare/circl v1.6.5 // indirect
	github.com/miekg/dns v1.1.41 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace git.schwanenlied.me/yawning/x448.git => gitlab.com/yawning/x448.git v0.0.0-20170617130356-01b048fb03d6
