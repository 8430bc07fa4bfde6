package mlsguard

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	mls "github.com/cisco/go-mls"
)

// Identity is a participant's long-term Ed25519 signing key and the
// BasicCredential that carries its nick.
type Identity struct {
	priv mls.SignaturePrivateKey
	cred *mls.Credential
	nick string
}

// NewIdentity derives an identity from a 32-byte seed (supplied by the
// caller's random source) and a nick.
func NewIdentity(seed []byte, nick string) (*Identity, error) {
	if len(seed) != SecretSize {
		return nil, fmt.Errorf("%w: identity seed must be %d bytes", ErrMalformed, SecretSize)
	}
	if err := ValidNick(nick); err != nil {
		return nil, err
	}
	var priv mls.SignaturePrivateKey
	err := safely("derive identity", func() error {
		var err error
		priv, err = Suite.Scheme().Derive(seed)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: derive identity: %w", err)
	}
	return &Identity{
		priv: priv,
		cred: mls.NewBasicCredential([]byte(nick), Suite.Scheme(), priv.PublicKey),
		nick: nick,
	}, nil
}

// ValidNick reports whether nick may be carried in a credential.
func ValidNick(nick string) error {
	if nick == "" || len(nick) > MaxNickLen || !utf8.ValidString(nick) || utf8.RuneCountInString(nick) > MaxNickRunes {
		return fmt.Errorf("%w: nick must be 1..%d printable characters", ErrMalformed, MaxNickRunes)
	}
	for _, r := range nick {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: nick has a character that is not printable (%U)", ErrMalformed, r)
		}
	}
	return nil
}

// PublicKey returns the raw Ed25519 public key.
func (id *Identity) PublicKey() []byte { return bytes.Clone(id.priv.PublicKey.Data) }

// Fingerprint returns the SHA-256 of the public key.
func (id *Identity) Fingerprint() Fingerprint { return FingerprintOf(id.priv.PublicKey.Data) }

// Nick returns the nick carried in the credential.
func (id *Identity) Nick() string { return id.nick }

// Sign signs msg with the identity key (used by the transport handshake).
func (id *Identity) Sign(msg []byte) ([]byte, error) {
	var sig []byte
	err := safely("sign", func() error {
		var err error
		sig, err = Suite.Scheme().Sign(&id.priv, msg)
		return err
	})
	return sig, err
}

// Verify checks an Ed25519 signature by pub over msg.
func Verify(pub, msg, sig []byte) bool {
	if len(pub) != 32 || len(sig) != 64 {
		return false
	}
	ok := false
	_ = safely("verify", func() error {
		ok = Suite.Scheme().Verify(&mls.SignaturePublicKey{Data: pub}, msg, sig)
		return nil
	})
	return ok
}

// KeyPackage is a verified, parsed MLS KeyPackage together with its exact
// encoding (the Welcome finds its recipient by a hash of those bytes).
type KeyPackage struct {
	kp  mls.KeyPackage
	raw []byte
}

// NewKeyPackage makes a KeyPackage whose init key derives from initSecret.
// The caller keeps initSecret until the package is used or expires.
func (id *Identity) NewKeyPackage(initSecret []byte) (*KeyPackage, error) {
	if len(initSecret) != SecretSize {
		return nil, fmt.Errorf("%w: init secret must be %d bytes", ErrMalformed, SecretSize)
	}
	var kp *mls.KeyPackage
	err := safely("new key package", func() error {
		var err error
		kp, err = mls.NewKeyPackageWithSecret(Suite, initSecret, id.cred, id.priv)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: new key package: %w", err)
	}
	raw, err := encode(kp)
	if err != nil {
		return nil, err
	}
	return &KeyPackage{kp: *kp, raw: raw}, nil
}

// ParseKeyPackage decodes and verifies a KeyPackage received from the
// network: strict decoding, our suite only, a basic credential with a valid
// nick and an Ed25519 key, a valid signature and lifetime.
func ParseKeyPackage(raw []byte) (*KeyPackage, error) {
	var kp mls.KeyPackage
	if err := decodeStrict(raw, &kp); err != nil {
		return nil, err
	}
	if err := checkKeyPackage(&kp); err != nil {
		return nil, err
	}
	compact(&kp)
	return &KeyPackage{kp: kp, raw: bytes.Clone(raw)}, nil
}

func checkKeyPackage(kp *mls.KeyPackage) error {
	if err := checkKeyPackageShape(kp); err != nil {
		return err
	}
	ok := false
	err := safely("verify key package", func() error {
		ok = kp.Verify()
		return nil
	})
	if err != nil || !ok {
		return fmt.Errorf("%w: key package signature or lifetime", ErrAuth)
	}
	return nil
}

// checkKeyPackageShape checks everything but the signature: what must
// hold before go-mls touches the package (it panics on a foreign suite).
// go-mls verifies the signature itself when it applies an Add or Update.
func checkKeyPackageShape(kp *mls.KeyPackage) error {
	if kp.CipherSuite != Suite {
		return fmt.Errorf("%w: key package suite %v", ErrMalformed, kp.CipherSuite)
	}
	if kp.Credential.Type() != mls.CredentialTypeBasic || kp.Credential.Basic == nil {
		return fmt.Errorf("%w: key package credential is not basic", ErrMalformed)
	}
	if kp.Credential.Basic.SignatureScheme != Suite.Scheme() || len(kp.Credential.Basic.PublicKey.Data) != 32 {
		return fmt.Errorf("%w: key package credential key", ErrMalformed)
	}
	if err := ValidNick(string(kp.Credential.Basic.Identity)); err != nil {
		return err
	}
	if len(kp.InitKey.Data) != 32 {
		return fmt.Errorf("%w: key package init key length", ErrMalformed)
	}
	return nil
}

// Bytes returns the exact encoding.
func (k *KeyPackage) Bytes() []byte { return bytes.Clone(k.raw) }

// PublicKey returns the credential's signing key.
func (k *KeyPackage) PublicKey() []byte { return bytes.Clone(k.kp.Credential.Basic.PublicKey.Data) }

// Fingerprint returns the fingerprint of the credential's signing key.
func (k *KeyPackage) Fingerprint() Fingerprint {
	return FingerprintOf(k.kp.Credential.Basic.PublicKey.Data)
}

// Nick returns the nick in the credential.
func (k *KeyPackage) Nick() string { return string(k.kp.Credential.Basic.Identity) }

// Hash returns the hash that a Welcome uses to address this package.
func (k *KeyPackage) Hash() []byte { return Suite.Digest(k.raw) }
