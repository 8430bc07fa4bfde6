package transport

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// signer lets TLS sign with the participant's identity key, through the
// Identity interface (the private key stays where it is).
type signer struct {
	id  Identity
	pub ed25519.PublicKey
}

func (s signer) Public() crypto.PublicKey { return s.pub }

func (s signer) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("transport: Ed25519 signs whole messages")
	}
	return s.id.Sign(msg)
}

// certificate makes the self-signed certificate of our identity key. Its
// only content that matters is the key: a peer's ID is its SHA-256.
func certificate(id Identity) (tls.Certificate, error) {
	pub := ed25519.PublicKey(bytes.Clone(id.PublicKey()))
	if len(pub) != ed25519.PublicKeySize {
		return tls.Certificate{}, fmt.Errorf("transport: identity key of %d bytes, want an Ed25519 key", len(pub))
	}
	s := signer{id: id, pub: pub}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, s)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: s}, nil
}

// tlsConfig is the channel's configuration: TLS 1.3 only, both sides
// present their identity certificate, and the peer's identity is its key's
// hash, checked here (not by a certificate authority: there is none).
// When expect is set (a dial to a known peer) another key is refused.
func (t *Transport) tlsConfig(expect *ID) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{t.cert},
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		// The identity check is VerifyPeerCertificate's alone; the TLS
		// handshake still proves the peer holds the certificate's key.
		InsecureSkipVerify:     true,
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			id, err := peerID(raw)
			if err == nil && expect != nil && id != *expect {
				err = fmt.Errorf("%w: expected peer %s, got %s", ErrAuth, expect.Short(), id.Short())
			}
			return err
		},
	}
}

// peerID is the ID of the Ed25519 key in a peer's one certificate.
func peerID(raw [][]byte) (ID, error) {
	if len(raw) != 1 {
		return ID{}, fmt.Errorf("%w: %d certificates", ErrAuth, len(raw))
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return ID{}, fmt.Errorf("%w: certificate: %v", ErrAuth, err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return ID{}, fmt.Errorf("%w: not an Ed25519 key", ErrAuth)
	}
	return IDOf(pub), nil
}

const maxHandshakeFrame = 4096

// handshake runs TLS 1.3 over the connection, then both sides send their
// hello inside it. Everything after the TLS ClientHello is encrypted and
// authenticated; the peer is known by its key.
func (t *Transport) handshake(c *conn, expect *ID) (*hello, error) {
	if err := c.raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return nil, err
	}
	var tc *tls.Conn
	if c.dialer {
		tc = tls.Client(c.raw, t.tlsConfig(expect))
	} else {
		tc = tls.Server(c.raw, t.tlsConfig(nil))
	}
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	var raw [][]byte
	for _, cert := range tc.ConnectionState().PeerCertificates {
		raw = append(raw, cert.Raw)
	}
	remote, err := peerID(raw)
	if err != nil {
		return nil, err
	}
	c.setChannel(tc, remote)
	if c.remote == t.me {
		return nil, ErrSelf
	}
	mine := &hello{nick: *t.nick.Load(), listenPort: uint16(t.listenPort.Load()), incarnation: t.incarnation}
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
	if err := c.raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return theirs, nil
}
