package dmls

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
	"time"
)

func TestRolesAndSecretUpdates(t *testing.T) {
	t.Parallel()
	env := Env{Rand: rand.New(rand.NewSource(5)), Now: func() time.Time { return time.Unix(1800000000, 0) }}
	alice, _ := NewIdentity(env, "alice")
	bob, _ := NewIdentity(env, "bob")
	mallory, _ := NewIdentity(env, "mallory")
	room := PrivateRoomID(bytes.Repeat([]byte{7}, SecretSize))
	roles := &Roles{Room: room, Version: 2, Admins: []Fingerprint{bob.Fingerprint()}}
	raw := signedRoles(t, alice, roles)
	got, err := UnmarshalRoles(raw)
	if err != nil || got.Verify() != nil {
		t.Fatalf("genuine roles: %v", err)
	}
	for _, c := range []struct {
		who  Fingerprint
		want bool
	}{{alice.Fingerprint(), true}, {bob.Fingerprint(), true}, {mallory.Fingerprint(), false}} {
		if got.Can(c.who) != c.want {
			t.Fatalf("Can(%s) = %v", c.who.Short(), !c.want)
		}
	}
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x10
		if r, err := UnmarshalRoles(bad); err == nil && r.Verify() == nil {
			t.Fatalf("roles with byte %d changed still verify", i)
		}
	}
	// mallory re-signs alice's roles with herself as admin: she is their
	// creator then, which a member compares with the room's.
	forged := *got
	forged.Admins = append(forged.Admins, mallory.Fingerprint())
	if err := forged.Sign(mallory); err != nil {
		t.Fatal(err)
	}
	if forged.CreatorID() == alice.Fingerprint() {
		t.Fatal("a re-signed record keeps the creator")
	}
	forged.Creator = alice.PublicKey()
	if err := forged.Verify(); !errors.Is(err, ErrAuth) {
		t.Fatalf("mallory's roles passed for alice's: %v", err)
	}

	u := &SecretUpdate{Room: room, Version: 3, Secret: bytes.Repeat([]byte{9}, SecretSize)}
	if err := u.Sign(bob); err != nil {
		t.Fatal(err)
	}
	uraw, err := u.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gu, err := UnmarshalSecretUpdate(uraw)
	if err != nil || gu.Verify() != nil || gu.AdminID() != bob.Fingerprint() || !got.Can(gu.AdminID()) {
		t.Fatalf("genuine update: %v", err)
	}
	for i := range uraw {
		bad := bytes.Clone(uraw)
		bad[i] ^= 0x10
		if x, err := UnmarshalSecretUpdate(bad); err == nil && x.Verify() == nil {
			t.Fatalf("update with byte %d changed still verifies", i)
		}
	}
}

func FuzzUnmarshalRoles(f *testing.F) {
	r := &Roles{Creator: bytes.Repeat([]byte{1}, keySize), Version: 1, Admins: []Fingerprint{{2}}, Sig: bytes.Repeat([]byte{3}, sigSize)}
	b, err := r.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalRoles(data)
		if err != nil {
			return
		}
		if again, err := r.Marshal(); err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzUnmarshalSecretUpdate(f *testing.F) {
	u := &SecretUpdate{Admin: bytes.Repeat([]byte{1}, keySize), Version: 1, Secret: make([]byte, SecretSize), Sig: bytes.Repeat([]byte{3}, sigSize)}
	b, err := u.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := UnmarshalSecretUpdate(data)
		if err != nil {
			return
		}
		if again, err := u.Marshal(); err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestRolesAtTheBound: MaxAdmins admins sign and read back; one more is
// refused when signed and when read.
func TestRolesAtTheBound(t *testing.T) {
	t.Parallel()
	env := Env{Rand: rand.New(rand.NewSource(6)), Now: func() time.Time { return time.Unix(1800000000, 0) }}
	alice, err := NewIdentity(env, "alice")
	if err != nil {
		t.Fatal(err)
	}
	admins := make([]Fingerprint, MaxAdmins+1)
	for i := range admins {
		admins[i] = Fingerprint{byte(i), 3}
	}
	roles := &Roles{Room: PrivateRoomID(bytes.Repeat([]byte{7}, SecretSize)), Version: 1, Admins: admins[:MaxAdmins]}
	raw := signedRoles(t, alice, roles)
	got, err := UnmarshalRoles(raw)
	if err != nil || got.Verify() != nil || len(got.Admins) != MaxAdmins {
		t.Fatalf("%d admins: %v", MaxAdmins, err)
	}
	over := &Roles{Room: roles.Room, Version: 2, Admins: admins}
	if err := over.Sign(alice); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d admins signed: %v", len(admins), err)
	}
	// On the wire: the count of admins one past the bound.
	bad := bytes.Clone(raw)
	bad[32+keySize+8] = MaxAdmins + 1
	if _, err := UnmarshalRoles(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d admins read: %v", MaxAdmins+1, err)
	}
}

// TestPowersBody: what a roles or secret control message carries, and
// what is refused.
func TestPowersBody(t *testing.T) {
	t.Parallel()
	body := func(ctl uint8, rec []byte, trailing ...byte) []byte {
		b := append([]byte{ctl, byte(len(rec) >> 8), byte(len(rec))}, rec...)
		return append(b, trailing...)
	}
	tests := []struct {
		name string
		body []byte
		ctl  uint8
		ok   bool
	}{
		{"roles", body(ctlRoles, []byte("roles record")), ctlRoles, true},
		{"a secret update", body(ctlSecret, []byte("update")), ctlSecret, true},
		{"another control", body(ctlSecret+9, []byte("x")), 0, false},
		{"trailing bytes", body(ctlRoles, []byte("x"), 0), 0, false},
		{"cut short", body(ctlRoles, []byte("record"))[:5], 0, false},
		{"empty", nil, 0, false},
	}
	for _, tt := range tests {
		ctl, rec, err := unmarshalPowers(tt.body)
		if (err == nil) != tt.ok || ctl != tt.ctl {
			t.Errorf("%s: ctl %d, %v", tt.name, ctl, err)
			continue
		}
		if tt.ok && !bytes.Equal(rec, tt.body[3:]) {
			t.Errorf("%s: record %q", tt.name, rec)
		}
	}
}

// signedRoles signs roles as id and encodes them.
func signedRoles(t *testing.T, id *Identity, roles *Roles) []byte {
	t.Helper()
	if err := roles.Sign(id); err != nil {
		t.Fatal(err)
	}
	raw, err := roles.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
