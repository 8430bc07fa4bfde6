package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Identity is the stored identity: the key seed and the nick.
type Identity struct {
	Seed []byte `json:"seed"`
	Nick string `json:"nick"`
}

// Identity returns the stored identity, or ErrNotFound.
func (s *Store) Identity() (Identity, error) {
	var id Identity
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bIdentity), []byte("self"), &id) })
	if err == nil && len(id.Seed) != 32 {
		return Identity{}, fmt.Errorf("%w: identity seed of %d bytes", ErrCorrupt, len(id.Seed))
	}
	return id, err
}

// SetIdentity stores the identity (a first start, or a nick change).
func (s *Store) SetIdentity(id Identity) error {
	return s.update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bIdentity), []byte("self"), id) })
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
}

// SetPowers keeps a private room's powers as they are now.
func (s *Store) SetPowers(name string, roles, update []byte, oldTags [][]byte) error {
	return s.update(func(tx *bolt.Tx) error {
		var r Room
		if err := getJSON(tx.Bucket(bRooms), []byte(name), &r); err != nil {
			return err
		}
		r.Roles, r.Update, r.OldTags = roles, update, oldTags
		return putJSON(tx.Bucket(bRooms), []byte(name), r)
	})
}

// JoinRoom records that we are in r (unless we are in a room of its name).
func (s *Store) JoinRoom(r Room) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRooms)
		if b.Get([]byte(r.Name)) != nil {
			return nil
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
	return s.update(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bVouches).Put(kickKey(room, peer), nil) })
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
	return s.update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bInvites), []byte(inv.Room), inv) })
}

// Invitation returns the invitation to room, or ErrNotFound.
func (s *Store) Invitation(room string) (Invite, error) {
	var inv Invite
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bInvites), []byte(room), &inv) })
	return inv, err
}

// DropInvite forgets the invitation to room (it was accepted).
func (s *Store) DropInvite(room string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bInvites).Delete([]byte(room)) })
}

// Rooms lists the rooms we are in, by name.
func (s *Store) Rooms() ([]Room, error) {
	var out []Room
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bRooms).ForEach(func(k, _ []byte) error {
			var r Room
			if err := getJSON(tx.Bucket(bRooms), k, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Settings the user set, kept across restarts.
const (
	SettingLastRoom = "last-room" // the room on screen when we stopped
	SettingNotify   = "notify"    // "off" turns desktop notifications off
	SettingAutoSave = "autosave"  // bytes: files up to it are saved as offered ("" or "0": off)
	SettingHold     = "hold"      // "off": we keep nothing of others' messages to hand on
)

// SetSetting records a setting.
func (s *Store) SetSetting(name, value string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bSettings).Put([]byte(name), []byte(value)) })
}

// Setting returns a setting ("" when never set).
func (s *Store) Setting(name string) (string, error) {
	var v string
	err := s.view(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bSettings).Get([]byte(name)))
		return nil
	})
	return v, err
}
