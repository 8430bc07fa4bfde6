package dmls

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/mmls-chat/mmls-chat/transport/wire"
)

// Fork detection. A dishonest owner can send different commits for one
// epoch to different members (the draft: "the MMLS layer can help
// participants gossip about the commits they see"). Every member
// periodically publishes, as a control message in its own send group, a
// digest of the latest commit it applied in each receive group. Any two
// different commit hashes for one (group, epoch), whether seen by us or
// reported by others, raise EventEquivocation naming the group's owner.
//
// Control body (inside an EnvelopeControl):
//
//	ctl      u8    = ctlDigest
//	count    u16   (<= maxDigestEntries)
//	entries  count x { group u8 len bytes; owner [32]; epoch u64; commit hash [32] }

const (
	ctlDigest        = 1
	ctlInvite        = 2
	maxInviteName    = 64
	maxDigestEntries = 1024
	// forkHistory bounds the (group, epoch) pairs remembered.
	forkHistory = 8192
)

// DigestEntry names the latest commit a member applied in one group.
type DigestEntry struct {
	Group []byte
	Owner Fingerprint
	Epoch uint64
	Hash  [32]byte
}

func marshalDigest(entries []DigestEntry) ([]byte, error) {
	if len(entries) > maxDigestEntries {
		return nil, fmt.Errorf("%w: %d digest entries", ErrTooLarge, len(entries))
	}
	w := &wire.Writer{}
	w.U8(ctlDigest)
	w.U16(uint16(len(entries)))
	for _, e := range entries {
		if len(e.Group) > maxGroupID {
			return nil, fmt.Errorf("%w: group id of %d bytes", ErrMalformed, len(e.Group))
		}
		w.Bytes8(e.Group)
		w.Raw(e.Owner[:])
		w.U64(e.Epoch)
		w.Raw(e.Hash[:])
	}
	return w.B, nil
}

// UnmarshalDigest decodes a digest control body.
func UnmarshalDigest(b []byte) ([]DigestEntry, error) {
	r := wire.NewReader(b)
	if c := r.U8(); r.Err() == nil && c != ctlDigest {
		return nil, fmt.Errorf("%w: control type %d", ErrMalformed, c)
	}
	n := int(r.U16())
	if n > maxDigestEntries {
		return nil, fmt.Errorf("%w: %d digest entries", ErrTooLarge, n)
	}
	out := make([]DigestEntry, 0, min(n, 64))
	for i := 0; i < n && r.Err() == nil; i++ {
		var e DigestEntry
		e.Group = r.Bytes8(maxGroupID)
		copy(e.Owner[:], r.Raw(32))
		e.Epoch = r.U64()
		copy(e.Hash[:], r.Raw(32))
		out = append(out, e)
	}
	if err := r.Done(); err != nil {
		return nil, wireErr(err)
	}
	return out, nil
}

type forkKey struct {
	group string
	epoch uint64
}

type forkSeen struct {
	hash     [32]byte
	reporter Fingerprint
}

// forkWatch remembers one commit hash per (group, epoch) and who reported
// it, and raises an alert on the first conflict.
type forkWatch struct {
	seen    map[forkKey]forkSeen
	order   []forkKey
	alerted map[forkKey]bool
}

func newForkWatch() *forkWatch {
	return &forkWatch{seen: map[forkKey]forkSeen{}, alerted: map[forkKey]bool{}}
}

func (f *forkWatch) observe(group []byte, epoch uint64, hash [32]byte, reporter, owner Fingerprint, out *Output) {
	k := forkKey{string(group), epoch}
	prev, ok := f.seen[k]
	if !ok {
		f.seen[k] = forkSeen{hash: hash, reporter: reporter}
		f.order = append(f.order, k)
		for len(f.order) > forkHistory {
			delete(f.seen, f.order[0])
			delete(f.alerted, f.order[0])
			f.order = f.order[1:]
		}
		return
	}
	if prev.hash == hash || f.alerted[k] {
		return
	}
	f.alerted[k] = true
	out.event(Event{
		Type: EventEquivocation, By: owner, Epoch: epoch,
		Detail: fmt.Sprintf("owner %s sent different commits for epoch %d of group %x: %x (seen by %s) and %x (seen by %s)",
			ShortID(owner), epoch, group, prev.hash[:6], ShortID(prev.reporter), hash[:6], ShortID(reporter)),
	})
}

// Digest lists the latest commit we applied in each receive group.
func (s *Session) Digest() []DigestEntry {
	var out []DigestEntry
	for _, rg := range s.recv {
		if rg.hasCommit {
			out = append(out, DigestEntry{Group: rg.gid, Owner: rg.owner, Epoch: rg.lastEpoch, Hash: rg.lastHash})
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Group) < string(out[j].Group) })
	return out
}

// PublishDigest protects our commit digest as a control message to every
// member of our send group.
func (s *Session) PublishDigest() (Output, error) {
	body, err := marshalDigest(s.Digest())
	if err != nil {
		return Output{}, err
	}
	id, err := s.newMessageID()
	if err != nil {
		return Output{}, err
	}
	s.lastDigest, s.digestDirty = s.env.Now(), false
	return s.ProtectEnvelope(&Envelope{ID: id, SentAt: s.env.Now().UTC(), Kind: EnvelopeControl, Body: body})
}

func (s *Session) handleControl(rg *recvGroup, e *Envelope, out *Output) error {
	body := e.Body
	if len(body) > 0 && body[0] == ctlInvite {
		room, err := UnmarshalInvite(body)
		if err != nil {
			return err
		}
		out.event(Event{Type: EventInvite, Peer: rg.owner, Nick: rg.ownerNick, Envelope: e, Detail: room})
		return nil
	}
	entries, err := UnmarshalDigest(body)
	if err != nil {
		return err
	}
	for _, e := range entries {
		// Trust our own knowledge of who owns a group over the report.
		owner := e.Owner
		if known := s.recv[string(e.Group)]; known != nil {
			owner = known.owner
		} else if string(e.Group) == string(s.send.GroupID()) {
			owner = s.id.Fingerprint()
		}
		s.forks.observe(e.Group, e.Epoch, e.Hash, rg.owner, owner, out)
	}
	return nil
}

// Invitation control body: ctl u8 = ctlInvite | name u8 len (<= 64) | name.
// It travels inside an application message, so the room name stays
// encrypted.

// InviteBody encodes an invitation to room.
func InviteBody(room string) ([]byte, error) {
	if room == "" || len(room) > maxInviteName {
		return nil, fmt.Errorf("%w: room name of %d bytes", ErrMalformed, len(room))
	}
	w := &wire.Writer{}
	w.U8(ctlInvite)
	w.Bytes8([]byte(room))
	return w.B, nil
}

// UnmarshalInvite decodes an invitation body.
func UnmarshalInvite(b []byte) (string, error) {
	r := wire.NewReader(b)
	if c := r.U8(); r.Err() == nil && c != ctlInvite {
		return "", fmt.Errorf("%w: control type %d", ErrMalformed, c)
	}
	name := r.Bytes8(maxInviteName)
	if err := r.Done(); err != nil {
		return "", wireErr(err)
	}
	if len(name) == 0 || !utf8.Valid(name) {
		return "", fmt.Errorf("%w: invitation room name", ErrMalformed)
	}
	return string(name), nil
}
