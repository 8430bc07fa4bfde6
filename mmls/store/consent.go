package store

import (
	"encoding/binary"
	"time"
)

// Consent (version 8): peers whose direct messages we ignore, and what
// each sender has made us store in each room (quotas).
var (
	bIgnored = []byte("ignored") // peer id -> time ignored
	bQuota   = []byte("quota")   // room \x00 sender id -> u64 bytes stored
)

// Ignore records that peer's direct messages are refused from now on.
func (s *Store) Ignore(peer string, at time.Time) error {
	return s.update(func(tx *Tx) error {
		return tx.Bucket(bIgnored).Put([]byte(peer), binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano())))
	})
}

// Unignore lifts Ignore.
func (s *Store) Unignore(peer string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bIgnored).Delete([]byte(peer)) })
}

// Ignored reports whether peer's direct messages are refused.
func (s *Store) Ignored(peer string) (bool, error) {
	ignored := false
	err := s.view(func(tx *Tx) error {
		ignored = tx.Bucket(bIgnored).Get([]byte(peer)) != nil
		return nil
	})
	return ignored, err
}

// Stored returns how many bytes sender has made us store in room.
func (s *Store) Stored(room, sender string) (int64, error) {
	var n int64
	err := s.view(func(tx *Tx) error {
		if v := tx.Bucket(bQuota).Get([]byte(room + "\x00" + sender)); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
}

// AddStored counts n more bytes sender made us store in room.
func (s *Store) AddStored(room, sender string, n int64) error {
	return s.update(func(tx *Tx) error {
		k := []byte(room + "\x00" + sender)
		var have int64
		if v := tx.Bucket(bQuota).Get(k); len(v) == 8 {
			have = int64(binary.BigEndian.Uint64(v))
		}
		return tx.Bucket(bQuota).Put(k, binary.BigEndian.AppendUint64(nil, uint64(have+n)))
	})
}

// SetRequest marks a direct room as a stranger's request (or accepted).
func (s *Store) SetRequest(name string, request bool) error {
	return s.update(func(tx *Tx) error {
		var r Room
		if err := getJSON(tx.Bucket(bRooms), []byte(name), &r); err != nil {
			return err
		}
		r.Request = request
		return putJSON(tx.Bucket(bRooms), []byte(name), r)
	})
}
