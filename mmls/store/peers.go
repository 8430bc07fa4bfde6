package store

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

func kickKey(room, peer string) []byte { return []byte(room + "\x00" + peer) }

// Kick records that peer is kicked from room (by us, or by propagation).
func (s *Store) Kick(room, peer string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bKicks).Put(kickKey(room, peer), []byte(at.UTC().Format(time.RFC3339Nano)))
	})
}

// Kicked lists the peers kicked from room.
func (s *Store) Kicked(room string) ([]string, error) { return s.prefixed(bKicks, room) }

// AddMember records that peer is in our send group for room, so messages
// written after a restart are still addressed to it before it rejoins.
func (s *Store) AddMember(room, peer string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMembers).Put(kickKey(room, peer), nil) })
}

// RemoveMember records that peer left our send group for room.
func (s *Store) RemoveMember(room, peer string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMembers).Delete(kickKey(room, peer)) })
}

// Members lists the peers in our send group for room.
func (s *Store) Members(room string) ([]string, error) { return s.prefixed(bMembers, room) }

// ClearMembers forgets room's members (we left it).
func (s *Store) ClearMembers(room string) error {
	members, err := s.Members(room)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, m := range members {
			if err := tx.Bucket(bMembers).Delete(kickKey(room, m)); err != nil {
				return err
			}
		}
		return nil
	})
}

// prefixed lists the peer ids stored under room in a room\x00peer bucket.
func (s *Store) prefixed(bucket []byte, room string) ([]string, error) {
	var out []string
	prefix := []byte(room + "\x00")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, string(k[len(prefix):]))
		}
		return nil
	})
	return out, err
}

// SetVerified records that the user compared safety numbers with peer.
func (s *Store) SetVerified(peer string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bVerified).Put([]byte(peer), []byte(at.UTC().Format(time.RFC3339)))
	})
}

// Verified reports whether the user verified peer.
func (s *Store) Verified(peer string) (bool, error) {
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		found = tx.Bucket(bVerified).Get([]byte(peer)) != nil
		return nil
	})
	return found, err
}

// Pin records that nick belongs to peer id. When nick is already pinned
// to another id it changes nothing and returns that id (the caller raises
// a key-changed alert); otherwise it returns "".
func (s *Store) Pin(nick, id string) (string, error) {
	var previous string
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bPins)
		if old := b.Get([]byte(nick)); old != nil {
			if string(old) != id {
				previous = string(old)
			}
			return nil
		}
		return b.Put([]byte(nick), []byte(id))
	})
	return previous, err
}
