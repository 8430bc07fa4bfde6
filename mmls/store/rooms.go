package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Identity is the stored identity: the key seed and the nick.
type Identity struct {
	Seed []byte `json:"seed"`
	Nick string `json:"nick"`
}

// Identity returns the stored identity, or ErrNotFound.
func (s *Store) Identity() (Identity, error) {
	var id Identity
	err := s.view(func(tx *Tx) error { return getJSON(tx.Bucket(bIdentity), []byte("self"), &id) })
	if err == nil && len(id.Seed) != 32 {
		return Identity{}, fmt.Errorf("%w: identity seed of %d bytes", ErrCorrupt, len(id.Seed))
	}
	return id, err
}

// SetIdentity stores the identity (a first start, or a nick change).
func (s *Store) SetIdentity(id Identity) error {
	return s.update(func(tx *Tx) error { return putJSON(tx.Bucket(bIdentity), []byte("self"), id) })
}

// Room is a room we joined. A private room has a secret (its id comes
// from it); an open room is its name.
type Room struct {
	Name     string    `json:"name"`
	JoinedAt time.Time `json:"joined_at"`
	Private  bool      `json:"private,omitempty"`
	Secret   []byte    `json:"secret,omitempty"`
	// A private room's powers: its creator's signed roles, the latest
	// signed secret update, and the tag secrets before it (newest last),
	// as they travel (nil for a room made before roles were signed).
	Roles   []byte   `json:"roles,omitempty"`
	Update  []byte   `json:"update,omitempty"`
	OldTags [][]byte `json:"old_tags,omitempty"`
	// Request: a direct room a stranger opened, not accepted yet.
	Request bool `json:"request,omitempty"`
}

// SetPowers keeps a private room's powers as they are now.
func (s *Store) SetPowers(name string, roles, update []byte, oldTags [][]byte) error {
	return s.update(func(tx *Tx) error {
		var r Room
		if err := getJSON(tx.Bucket(bRooms), []byte(name), &r); err != nil {
			return err
		}
		r.Roles, r.Update, r.OldTags = roles, update, oldTags
		return putJSON(tx.Bucket(bRooms), []byte(name), r)
	})
}

// JoinRoom records that we are in r (unless we are in a room of its name):
// what another room of its name left behind is kept apart (reuse.go).
func (s *Store) JoinRoom(r Room) error {
	return s.update(func(tx *Tx) error {
		b := tx.Bucket(bRooms)
		if b.Get([]byte(r.Name)) != nil {
			return nil
		}
		if err := s.claimName(tx, r); err != nil {
			return err
		}
		r.JoinedAt = r.JoinedAt.UTC()
		return putJSON(b, []byte(r.Name), r)
	})
}

// LeaveRoom forgets that we are in room (its history stays) and whom we
// vouched for there.
func (s *Store) LeaveRoom(name string) error {
	vouches, err := s.Vouches(name)
	if err != nil {
		return err
	}
	return s.update(func(tx *Tx) error {
		for _, v := range vouches {
			if err := tx.Bucket(bVouches).Delete(kickKey(name, v)); err != nil {
				return err
			}
		}
		return tx.Bucket(bRooms).Delete([]byte(name))
	})
}

// Vouch records that we vouch for peer in the private room.
func (s *Store) Vouch(room, peer string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bVouches).Put(kickKey(room, peer), nil) })
}

// Vouches lists the peers we vouch for in room.
func (s *Store) Vouches(room string) ([]string, error) { return s.prefixed(bVouches, room) }

// Invite is an invitation to a private room we have not accepted yet.
type Invite struct {
	Room   string    `json:"room"`
	Secret []byte    `json:"secret"`
	From   string    `json:"from"` // the inviter's id
	At     time.Time `json:"at"`
	// Roles and Update: the room's powers, as the invitation carried them.
	Roles  []byte `json:"roles,omitempty"`
	Update []byte `json:"update,omitempty"`
}

// AddInvite keeps an invitation (a newer one to the same name replaces it).
func (s *Store) AddInvite(inv Invite) error {
	return s.update(func(tx *Tx) error { return putJSON(tx.Bucket(bInvites), inviteKey(inv.Room, inv.From), inv) })
}

// inviteKey keys an invitation by room name and inviter (version 8): one
// inviter's invitation never replaces another's.
func inviteKey(room, from string) []byte { return []byte(room + "\x00" + from) }

// Invitations returns the invitations to room, one per inviter.
func (s *Store) Invitations(room string) ([]Invite, error) {
	var out []Invite
	prefix := []byte(room + "\x00")
	err := s.view(func(tx *Tx) error {
		c := tx.Bucket(bInvites).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var inv Invite
			if err := json.Unmarshal(v, &inv); err != nil {
				return fmt.Errorf("%w: invitation %q: %v", ErrCorrupt, k, err)
			}
			out = append(out, inv)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	return out, err
}

// DropInvite forgets from's invitation to room (it was accepted).
func (s *Store) DropInvite(room, from string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bInvites).Delete(inviteKey(room, from)) })
}

// keyInvitesByInviter re-keys the invitations by room and inviter
// (version 8).
func keyInvitesByInviter(tx *Tx) error {
	b := tx.Bucket(bInvites)
	var old [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		if !bytes.Contains(k, []byte{0}) {
			old = append(old, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range old {
		var inv Invite
		if err := getJSON(b, k, &inv); err != nil {
			return err
		}
		if err := putJSON(b, inviteKey(inv.Room, inv.From), inv); err != nil {
			return err
		}
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Rooms lists the rooms we are in, by name.
func (s *Store) Rooms() ([]Room, error) {
	var out []Room
	err := s.view(func(tx *Tx) error {
		return tx.Bucket(bRooms).ForEach(func(k, _ []byte) error {
			var r Room
			if err := getJSON(tx.Bucket(bRooms), k, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	// A sealed store keeps them in the order of their names' hashes.
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Settings the user set, kept across restarts.
const (
	SettingLastRoom = "last-room" // the room on screen when we stopped
	SettingNotify   = "notify"    // "off" turns desktop notifications off
	SettingAutoSave = "autosave"  // bytes: files up to it are saved as offered ("" or "0": off)
	SettingHold     = "hold"      // "off": we keep nothing of others' messages to hand on
	SettingRead     = "read\x00"  // + a room's name: the id of the last message read there
)

// SetSetting records a setting.
func (s *Store) SetSetting(name, value string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bSettings).Put([]byte(name), []byte(value)) })
}

// Setting returns a setting ("" when never set).
func (s *Store) Setting(name string) (string, error) {
	var v string
	err := s.view(func(tx *Tx) error {
		v = string(tx.Bucket(bSettings).Get([]byte(name)))
		return nil
	})
	return v, err
}
