package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Rooms are identities, not names (version 9). A name is used again when
// we leave a room and join another of that name: an open room after a
// private one, or two private rooms with different secrets. What a room
// left behind (history, notes, kicks, members, acknowledgements, held and
// outgoing messages, files) is that room's alone: JoinRoom moves another
// room's leftovers aside, under an archive name no command can reach, and
// brings back the joined room's own if it left some.
var bRoomIDs = []byte("roomids") // room name -> identity of the room that used the name last

// identityOf names a room's identity: a private room by its secret (as a
// keyed hash), an open or direct room by its name alone.
func identityOf(r Room) string {
	if !r.Private {
		return "open"
	}
	h := sha256.Sum256(append([]byte("mmls-chat room identity\x00"), r.Secret...))
	return "private-" + hex.EncodeToString(h[:16])
}

// archiveName is where the leftovers of the room of identity id called
// name are kept. Room names have no control characters: no command names
// it, and no prefix scan of a room's name meets it.
func archiveName(id, name string) string { return "\x01" + id + "\x01" + name }

// roomPrefixed: buckets keyed by room \x00 ...; roomSubs: a sub-bucket per
// room; roomKeyed: keyed by the room's name alone.
var (
	roomPrefixed = [][]byte{bMsgKeys, bKicks, bMembers, bVouches, bAcked, bPeerAcks, bQuota}
	roomSubs     = [][]byte{bMessages, bNotes, bHeld}
	roomKeyed    = [][]byte{bSeqs}
)

// claimName makes name r's before r is joined: a different room's
// leftovers go to its archive, r's own come back from theirs.
func (s *Store) claimName(tx *Tx, r Room) error {
	ids := tx.Bucket(bRoomIDs)
	want := identityOf(r)
	had := string(ids.Get([]byte(r.Name)))
	if had == want {
		return nil
	}
	if err := s.outboxWrite(tx, ""); err != nil {
		return err
	}
	if had == "" {
		// Left before rooms had identities: whose it was is unknown, so
		// it is kept apart from every room.
		had = "unknown-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if err := moveRoom(tx, r.Name, archiveName(had, r.Name)); err != nil {
		return err
	}
	if err := moveRoom(tx, archiveName(want, r.Name), r.Name); err != nil {
		return err
	}
	return ids.Put([]byte(r.Name), []byte(want))
}

// moveRoom moves everything stored under the room called from to the
// name to, which holds nothing.
func moveRoom(tx *Tx, from, to string) error {
	for _, name := range roomPrefixed {
		if err := movePrefixed(tx.Bucket(name), from, to); err != nil {
			return fmt.Errorf("store: %s: %w", name, err)
		}
	}
	for _, name := range roomKeyed {
		b := tx.Bucket(name)
		if v := b.Get([]byte(from)); v != nil {
			v = bytes.Clone(v)
			if err := b.Put([]byte(to), v); err != nil {
				return err
			}
			if err := b.Delete([]byte(from)); err != nil {
				return err
			}
		}
	}
	for _, name := range roomSubs {
		if err := moveSub(tx.Bucket(name), from, to); err != nil {
			return fmt.Errorf("store: %s: %w", name, err)
		}
	}
	if err := moveField(tx.Bucket(bOutbox), from, to, func(o *Outgoing) *string { return &o.Room }); err != nil {
		return err
	}
	return moveField(tx.Bucket(bFiles), from, to, func(f *File) *string { return &f.Room })
}

func movePrefixed(b *Bucket, from, to string) error {
	prefix := []byte(from + "\x00")
	var keys, vals [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
	}
	for i, k := range keys {
		if err := b.Put(append([]byte(to+"\x00"), k[len(prefix):]...), vals[i]); err != nil {
			return err
		}
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func moveSub(b *Bucket, from, to string) error {
	src := b.Bucket([]byte(from))
	if src == nil {
		return nil
	}
	dst, err := b.CreateBucketIfNotExists([]byte(to))
	if err != nil {
		return err
	}
	if err := src.ForEach(func(k, v []byte) error {
		if v == nil {
			return fmt.Errorf("a bucket inside room %q", from)
		}
		return dst.Put(bytes.Clone(k), bytes.Clone(v))
	}); err != nil {
		return err
	}
	if err := dst.SetSequence(max(dst.Sequence(), src.Sequence())); err != nil {
		return err
	}
	return b.DeleteBucket([]byte(from))
}

// moveField renames the room in every JSON value of b that names from.
func moveField[T any](b *Bucket, from, to string, room func(*T) *string) error {
	var keys [][]byte
	var vals []T
	if err := b.ForEach(func(k, _ []byte) error {
		var v T
		if err := getJSON(b, k, &v); err != nil {
			return err
		}
		if *room(&v) == from {
			*room(&v) = to
			keys, vals = append(keys, bytes.Clone(k)), append(vals, v)
		}
		return nil
	}); err != nil {
		return err
	}
	for i, k := range keys {
		if err := putJSON(b, k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// nameRooms gives the rooms we are in their identities (version 9).
func nameRooms(tx *Tx) error {
	if err := createBuckets(tx, bRoomIDs); err != nil {
		return err
	}
	b := tx.Bucket(bRooms)
	return b.ForEach(func(k, _ []byte) error {
		var r Room
		if err := getJSON(b, k, &r); err != nil {
			return err
		}
		return tx.Bucket(bRoomIDs).Put(bytes.Clone(k), []byte(identityOf(r)))
	})
}
