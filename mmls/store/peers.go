package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

func kickKey(room, peer string) []byte { return []byte(room + "\x00" + peer) }

// Kick is a peer removed from a room, by us or by the owner whose removal
// we followed (By, an id; "" for us).
type Kick struct {
	Peer string    `json:"-"`
	By   string    `json:"by,omitempty"`
	At   time.Time `json:"at"`
}

// Kick records that peer is kicked from room.
func (s *Store) Kick(room string, k Kick) error {
	return s.update(func(tx *Tx) error {
		k.At = k.At.UTC()
		return putJSON(tx.Bucket(bKicks), kickKey(room, k.Peer), k)
	})
}

// Unkick lifts a kick (a re-admission).
func (s *Store) Unkick(room, peer string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bKicks).Delete(kickKey(room, peer)) })
}

// Kicked lists the kicks of room. A kick stored by version 1 (a bare
// time) counts as ours.
func (s *Store) Kicked(room string) ([]Kick, error) {
	peers, err := s.prefixed(bKicks, room)
	if err != nil {
		return nil, err
	}
	out := make([]Kick, 0, len(peers))
	err = s.view(func(tx *Tx) error {
		for _, p := range peers {
			k := Kick{}
			if v := tx.Bucket(bKicks).Get(kickKey(room, p)); len(v) > 0 && v[0] == '{' {
				if err := json.Unmarshal(v, &k); err != nil {
					return fmt.Errorf("%w: kick of %s: %v", ErrCorrupt, p, err)
				}
			}
			k.Peer = p
			out = append(out, k)
		}
		return nil
	})
	return out, err
}

// AddMember records that peer is in our send group for room, so messages
// written after a restart are still addressed to it before it rejoins.
func (s *Store) AddMember(room, peer string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bMembers).Put(kickKey(room, peer), nil) })
}

// RemoveMember records that peer left our send group for room.
func (s *Store) RemoveMember(room, peer string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bMembers).Delete(kickKey(room, peer)) })
}

// Members lists the peers in our send group for room.
func (s *Store) Members(room string) ([]string, error) { return s.prefixed(bMembers, room) }

// ClearMembers forgets room's members (we left it).
func (s *Store) ClearMembers(room string) error {
	members, err := s.Members(room)
	if err != nil {
		return err
	}
	return s.update(func(tx *Tx) error {
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
	err := s.view(func(tx *Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, string(k[len(prefix):]))
		}
		return nil
	})
	sort.Strings(out) // a sealed store keeps them in the order of their hashes
	return out, err
}

// SetVerified records that the user compared safety numbers with peer.
func (s *Store) SetVerified(peer string, at time.Time) error {
	return s.update(func(tx *Tx) error {
		return tx.Bucket(bVerified).Put([]byte(peer), []byte(at.UTC().Format(time.RFC3339)))
	})
}

// Verified reports whether the user verified peer.
func (s *Store) Verified(peer string) (bool, error) {
	found := false
	err := s.view(func(tx *Tx) error {
		found = tx.Bucket(bVerified).Get([]byte(peer)) != nil
		return nil
	})
	return found, err
}

// PinnedTo returns the id nick is pinned to ("" when none).
func (s *Store) PinnedTo(nick string) (string, error) {
	var id string
	err := s.view(func(tx *Tx) error {
		id = string(tx.Bucket(bPins).Get([]byte(nick)))
		return nil
	})
	return id, err
}

// SetPin pins nick to peer id, replacing another.
func (s *Store) SetPin(nick, id string) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bPins).Put([]byte(nick), []byte(id)) })
}

// Pin records that nick belongs to peer id. When nick is already pinned
// to another id it changes nothing and returns that id (the caller raises
// a key-changed alert); otherwise it returns "".
func (s *Store) Pin(nick, id string) (string, error) {
	var previous string
	err := s.update(func(tx *Tx) error {
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

// KnownPeer is a peer we were connected to: its nick and the address we
// reached it at (or it came from), when last seen. They let a restart
// reconnect without --peer and name an offline partner.
type KnownPeer struct {
	ID   string    `json:"-"`
	Nick string    `json:"nick"`
	Addr string    `json:"addr,omitempty"`
	Seen time.Time `json:"seen"`
}

// MaxKnownPeers bounds the known peers; past it the one seen longest ago
// goes.
const MaxKnownPeers = 256

// SawPeers records that each of ps was online (one transaction: callers
// gather them).
func (s *Store) SawPeers(ps []KnownPeer) error {
	if len(ps) == 0 {
		return nil
	}
	return s.update(func(tx *Tx) error {
		b := tx.Bucket(bKnown)
		for _, p := range ps {
			p.Seen = p.Seen.UTC()
			if b.Get([]byte(p.ID)) == nil && count(b) >= MaxKnownPeers {
				var oldest []byte
				var at time.Time
				if err := b.ForEach(func(k, v []byte) error {
					var q KnownPeer
					if json.Unmarshal(v, &q) != nil || oldest == nil || q.Seen.Before(at) {
						oldest, at = bytes.Clone(k), q.Seen
					}
					return nil
				}); err != nil {
					return err
				}
				if err := b.Delete(oldest); err != nil {
					return err
				}
			}
			if err := putJSON(b, []byte(p.ID), p); err != nil {
				return err
			}
		}
		return nil
	})
}

// KnownPeers lists the known peers, seen most recently first.
func (s *Store) KnownPeers() ([]KnownPeer, error) {
	var out []KnownPeer
	err := s.view(func(tx *Tx) error {
		b := tx.Bucket(bKnown)
		return b.ForEach(func(k, _ []byte) error {
			var p KnownPeer
			if err := getJSON(b, k, &p); err != nil {
				return err
			}
			p.ID = string(k)
			out = append(out, p)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Seen.After(out[j].Seen) })
	return out, err
}
