package transport

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/mmls-chat/mmls-chat/transport/wire"
)

func transcript(role byte, dialerNonce, acceptorNonce [32]byte, dialerKey, acceptorKey []byte) []byte {
	b := []byte("mmls-chat transport v1\x00")
	b = append(b, role)
	b = append(b, dialerNonce[:]...)
	b = append(b, acceptorNonce[:]...)
	b = append(b, dialerKey...)
	return append(b, acceptorKey...)
}

const maxHandshakeFrame = 4096

func (t *Transport) handshake(c *conn) (*hello, error) {
	deadline := time.Now().Add(t.cfg.HandshakeTimeout)
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	mine := &hello{key: t.pub, nick: t.cfg.Nick, listenPort: uint16(t.listenPort.Load()), incarnation: t.incarnation}
	if _, err := rand.Read(mine.nonce[:]); err != nil {
		return nil, err
	}
	if _, err := c.nc.Write(appendFrame(nil, frameHello, mine.marshal())); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	f, err := readFrame(c.br, maxHandshakeFrame)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if f.typ != frameHello {
		return nil, fmt.Errorf("%w: %v before hello", ErrMalformed, f.typ)
	}
	theirs, err := parseHello(f.payload)
	if err != nil {
		return nil, err
	}
	c.remote = IDOf(theirs.key)
	if c.remote == t.me {
		return nil, ErrSelf
	}
	dn, an, dk, ak := mine.nonce, theirs.nonce, mine.key, theirs.key
	myRole, theirRole := byte(0), byte(1)
	if !c.dialer {
		dn, an, dk, ak = theirs.nonce, mine.nonce, theirs.key, mine.key
		myRole, theirRole = 1, 0
	}
	sig, err := t.cfg.Identity.Sign(transcript(myRole, dn, an, dk, ak))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	auth := binary.BigEndian.AppendUint16(nil, uint16(len(sig)))
	if _, err := c.nc.Write(appendFrame(nil, frameAuth, append(auth, sig...))); err != nil {
		return nil, fmt.Errorf("send auth: %w", err)
	}
	f, err = readFrame(c.br, maxHandshakeFrame)
	if err != nil {
		return nil, fmt.Errorf("read auth: %w", err)
	}
	if f.typ != frameAuth {
		return nil, fmt.Errorf("%w: %v instead of auth", ErrMalformed, f.typ)
	}
	r := wire.NewReader(f.payload)
	theirSig := r.Bytes16(1024)
	if err := r.Done(); err != nil {
		return nil, wireErr(err)
	}
	if !t.cfg.Verify(theirs.key, transcript(theirRole, dn, an, dk, ak), theirSig) {
		return nil, ErrAuth
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return theirs, nil
}
