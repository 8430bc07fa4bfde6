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

// Room is a room we joined.
type Room struct {
	Name     string    `json:"name"`
	JoinedAt time.Time `json:"joined_at"`
}

// JoinRoom records that we are in room.
func (s *Store) JoinRoom(name string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRooms)
		if b.Get([]byte(name)) != nil {
			return nil
		}
		return putJSON(b, []byte(name), Room{Name: name, JoinedAt: at.UTC()})
	})
}

// LeaveRoom forgets that we are in room (its history stays).
func (s *Store) LeaveRoom(name string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bRooms).Delete([]byte(name)) })
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
