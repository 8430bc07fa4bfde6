package dmls

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
	"golang.org/x/crypto/cryptobyte"
)

// Private-room powers. A private room's creator signs who may remove
// people from it for everyone (Roles: the creator and the admins it
// names); members follow removals, and re-admissions, only from them. At
// each removal the remover gives the members left a fresh tag secret
// (SecretUpdate, signed by it), so the member removed no longer
// recognises the room's announcements, or who joins it. Both records
// travel inside MLS (invitations, control messages in send groups) and
// may be handed on by any member: their signatures, not their carrier,
// make them count.
//
//	roles:  room id [32] | creator key [32] | version u64 | count u8 (<= MaxAdmins) x admin [32] | sig [64]
//	secret: room id [32] | admin key [32]   | version u64 | secret [32]                          | sig [64]

// RolesContext and SecretContext separate the records' signatures from
// every other use of the identity key.
const (
	RolesContext  = "mmls-chat room roles v1\x00"
	SecretContext = "mmls-chat room secret v1\x00"
)

// MaxAdmins bounds a room's admins.
const MaxAdmins = 32

// Roles says who may remove people from a private room: its creator and
// the admins the creator named.
type Roles struct {
	Room    RoomID
	Creator []byte // the creator's public key
	Version uint64
	Admins  []Fingerprint
	Sig     []byte
}

// CreatorID is the creator's id.
func (r *Roles) CreatorID() Fingerprint { return mlsguard.FingerprintOf(r.Creator) }

// Can reports whether peer may remove people for everyone.
func (r *Roles) Can(peer Fingerprint) bool {
	return peer == r.CreatorID() || slices.Contains(r.Admins, peer)
}

func (r *Roles) signed() ([]byte, error) {
	if len(r.Creator) != keySize || len(r.Admins) > MaxAdmins {
		return nil, fmt.Errorf("%w: roles", ErrMalformed)
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddBytes([]byte(RolesContext))
	b.AddBytes(r.Room[:])
	b.AddBytes(r.Creator)
	b.AddUint64(r.Version)
	b.AddUint8(uint8(len(r.Admins)))
	for _, a := range r.Admins {
		b.AddBytes(a[:])
	}
	return built(b)
}

// Sign signs the roles as id's: only the creator's signature counts.
func (r *Roles) Sign(id *Identity) error {
	r.Creator = id.PublicKey()
	in, err := r.signed()
	if err != nil {
		return err
	}
	if r.Sig, err = id.Sign(in); err != nil {
		return fmt.Errorf("dmls: sign roles: %w", classify(err))
	}
	return nil
}

// Verify checks the creator's signature.
func (r *Roles) Verify() error {
	in, err := r.signed()
	if err != nil {
		return err
	}
	if !mlsguard.Verify(r.Creator, in, r.Sig) {
		return fmt.Errorf("%w: roles whose signature does not verify", ErrAuth)
	}
	return nil
}

// Marshal encodes signed roles.
func (r *Roles) Marshal() ([]byte, error) {
	in, err := r.signed()
	if err != nil || len(r.Sig) != sigSize {
		return nil, fmt.Errorf("%w: roles not signed", ErrMalformed)
	}
	return append(in[len(RolesContext):], r.Sig...), nil
}

// UnmarshalRoles decodes roles (not their signature: see [Roles.Verify]).
func UnmarshalRoles(b []byte) (*Roles, error) {
	s := cryptobyte.String(b)
	r := &Roles{}
	var n uint8
	if !s.CopyBytes(r.Room[:]) || !readCopy(&s, &r.Creator, keySize) || !s.ReadUint64(&r.Version) || !s.ReadUint8(&n) || n > MaxAdmins {
		return nil, fmt.Errorf("%w: roles", ErrMalformed)
	}
	r.Admins = make([]Fingerprint, n)
	for i := range r.Admins {
		if !s.CopyBytes(r.Admins[i][:]) {
			return nil, fmt.Errorf("%w: roles", ErrMalformed)
		}
	}
	if !readCopy(&s, &r.Sig, sigSize) || !s.Empty() {
		return nil, fmt.Errorf("%w: roles", ErrMalformed)
	}
	return r, nil
}

// SecretUpdate is a private room's tag secret from Version on, given by
// an admin at a removal.
type SecretUpdate struct {
	Room    RoomID
	Admin   []byte // the admin's public key
	Version uint64
	Secret  []byte
	Sig     []byte
}

// AdminID is the id of the admin that made the update.
func (u *SecretUpdate) AdminID() Fingerprint { return mlsguard.FingerprintOf(u.Admin) }

func (u *SecretUpdate) signed() ([]byte, error) {
	if len(u.Admin) != keySize || len(u.Secret) != SecretSize {
		return nil, fmt.Errorf("%w: secret update", ErrMalformed)
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddBytes([]byte(SecretContext))
	b.AddBytes(u.Room[:])
	b.AddBytes(u.Admin)
	b.AddUint64(u.Version)
	b.AddBytes(u.Secret)
	return built(b)
}

// Sign signs the update as id's.
func (u *SecretUpdate) Sign(id *Identity) error {
	u.Admin = id.PublicKey()
	in, err := u.signed()
	if err != nil {
		return err
	}
	if u.Sig, err = id.Sign(in); err != nil {
		return fmt.Errorf("dmls: sign secret: %w", classify(err))
	}
	return nil
}

// Verify checks the admin's signature (whether it is an admin is the
// room's Roles to say).
func (u *SecretUpdate) Verify() error {
	in, err := u.signed()
	if err != nil {
		return err
	}
	if !mlsguard.Verify(u.Admin, in, u.Sig) {
		return fmt.Errorf("%w: a room secret whose signature does not verify", ErrAuth)
	}
	return nil
}

// Marshal encodes a signed update.
func (u *SecretUpdate) Marshal() ([]byte, error) {
	in, err := u.signed()
	if err != nil || len(u.Sig) != sigSize {
		return nil, fmt.Errorf("%w: secret update not signed", ErrMalformed)
	}
	return append(in[len(SecretContext):], u.Sig...), nil
}

// UnmarshalSecretUpdate decodes an update (not its signature).
func UnmarshalSecretUpdate(b []byte) (*SecretUpdate, error) {
	s := cryptobyte.String(b)
	u := &SecretUpdate{}
	if !s.CopyBytes(u.Room[:]) || !readCopy(&s, &u.Admin, keySize) || !s.ReadUint64(&u.Version) ||
		!readCopy(&s, &u.Secret, SecretSize) || !readCopy(&s, &u.Sig, sigSize) || !s.Empty() {
		return nil, fmt.Errorf("%w: secret update", ErrMalformed)
	}
	return u, nil
}

// Powers control bodies (inside an EnvelopeControl in a private room's
// send group, addressed to its members):
//
//	ctl u8 = ctlRoles  | roles (u16 len)
//	ctl u8 = ctlSecret | secret update (u16 len)

// NewPowers makes the control envelope that gives the room's roles and
// its latest secret update (either may be nil) to the members in to.
func (s *Session) NewPowers(roles, update []byte, to []Fingerprint) ([]*Envelope, error) {
	var out []*Envelope
	for _, x := range []struct {
		ctl  uint8
		body []byte
	}{{ctlRoles, roles}, {ctlSecret, update}} {
		if x.body == nil {
			continue
		}
		b := cryptobyte.NewBuilder(nil)
		b.AddUint8(x.ctl)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(x.body) })
		body, err := built(b)
		if err != nil {
			return nil, err
		}
		e, err := s.envelope(EnvelopeControl, body, slices.Clone(to))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// unmarshalPowers decodes a roles or secret control body.
func unmarshalPowers(body []byte) (uint8, []byte, error) {
	s := cryptobyte.String(body)
	var ctl uint8
	var rec cryptobyte.String
	if !s.ReadUint8(&ctl) || ctl != ctlRoles && ctl != ctlSecret || !s.ReadUint16LengthPrefixed(&rec) || !s.Empty() {
		return 0, nil, fmt.Errorf("%w: powers", ErrMalformed)
	}
	return ctl, bytes.Clone(rec), nil
}
