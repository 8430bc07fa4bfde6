package dmls

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"sort"
)

// Private rooms. A private room is a name and a 32-byte random secret; its
// id comes from the secret alone (PrivateRoomID), so knowing or guessing
// the name gives nothing, and only those the secret was given to (an
// invitation, inside a direct room) can address its messages.
//
// Knowing the secret is not enough to get in: a private session admits a
// peer only when someone vouches for it: the peer is one we vouched for
// ourselves (we invited it, it invited us, it was a member before a
// restart), a member of our own send group, or a member of the send group
// of an owner whose group we joined (that owner admitted it, with a commit
// it signed). A KeyPackage or Welcome from a peer nobody vouched for waits
// (one per peer, MaxWaiting in all) and is handled when a commit or a
// Welcome makes the peer vouched for.

// MaxWaiting bounds the messages of not-yet-vouched peers a private
// session keeps.
const MaxWaiting = 64

// PrivateRoomID derives a private room's id from its secret.
func PrivateRoomID(secret []byte) RoomID {
	return sha256.Sum256(append([]byte("mmls-chat private room v1\x00"), secret...))
}

// RoomTag proves knowledge of a private room's secret to one peer, for one
// announcement: HMAC-SHA256 keyed by the secret over the announcement's
// nonce and both ids. It tells a peer that holds the same secret which
// room we share, and anyone else nothing, not even whether two tags are
// for the same room.
func RoomTag(secret, nonce []byte, from, to Fingerprint) [32]byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("mmls-chat room tag v1\x00"))
	mac.Write(nonce)
	mac.Write(from[:])
	mac.Write(to[:])
	var tag [32]byte
	copy(tag[:], mac.Sum(nil))
	return tag
}

// MakePrivate makes the session admit only vouched peers.
func (s *Session) MakePrivate() { s.priv.on = true }

// Private reports whether the session admits only vouched peers.
func (s *Session) Private() bool { return s.priv.on }

// Vouch vouches for peers: we invited them, they invited us, or they were
// members before a restart. What they sent while waiting is handled.
func (s *Session) Vouch(peers ...Fingerprint) Output {
	for _, p := range peers {
		if p != s.id.Fingerprint() {
			s.priv.vouches[p] = true
		}
	}
	return s.admitWaiting()
}

// Expects reports whether a link with peer, who announces this room, is
// to be expected: it is not us, not kicked, part of the conversation (a
// direct room's other person), vouched for in a private room, and it has
// not left us (a departed peer is not asked to re-add us).
func (s *Session) Expects(peer Fingerprint) bool {
	return peer != s.id.Fingerprint() && !s.Kicked(peer) && !s.refuses(peer) && !s.departed[peer] && s.vouched(peer)
}

// vouched reports whether peer may join our private room.
func (s *Session) vouched(peer Fingerprint) bool {
	if !s.priv.on || s.priv.vouches[peer] || s.InSendGroup(peer) {
		return true
	}
	for owner, rg := range s.byOwner {
		if owner == peer {
			return true // we joined its group: it was vouched for then
		}
		for _, m := range rg.cur.Members() {
			if m.Fingerprint() == peer {
				return true
			}
		}
	}
	return false
}

// wait keeps m from a peer nobody vouched for yet.
func (s *Session) wait(from Fingerprint, m *Message) error {
	if _, ok := s.priv.waiting[from]; ok || len(s.priv.waiting) < MaxWaiting {
		s.priv.waiting[from] = m
	}
	return fmt.Errorf("%w: %s", ErrNotVouched, from.Short())
}

// admitWaiting handles what waits from peers who are vouched for now.
func (s *Session) admitWaiting() Output {
	var out Output
	for progress := true; progress; {
		progress = false
		peers := make([]Fingerprint, 0, len(s.priv.waiting))
		for p := range s.priv.waiting {
			peers = append(peers, p)
		}
		sort.Slice(peers, func(i, j int) bool { return bytes.Compare(peers[i][:], peers[j][:]) < 0 })
		for _, p := range peers {
			if !s.vouched(p) {
				continue
			}
			m := s.priv.waiting[p]
			delete(s.priv.waiting, p)
			o, _ := s.HandleMessage(p, m) // its errors are the peer's, as on arrival
			out.add(o)
			progress = true
		}
	}
	return out
}

// privacy is a private room's admission: on, the room admits only vouched
// peers; vouches, the peers vouched for; waiting, what the others sent,
// kept (one message each, MaxWaiting peers) until someone vouches for them.
type privacy struct {
	on      bool
	vouches map[Fingerprint]bool
	waiting map[Fingerprint]*Message
}
