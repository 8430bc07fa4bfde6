package dmls

import (
	"fmt"
	"sort"

	"golang.org/x/crypto/cryptobyte"
)

// Fork detection. A dishonest owner can send different commits for one
// epoch to different members (the draft: "the MMLS layer can help
// participants gossip about the commits they see"). Every member
// periodically publishes, as a control message in its own send group, a
// digest of the latest commit it applied in each receive group. A digest
// is only a claim: any member could forge one. So a reported hash that
// differs from the commit we applied for that (group, epoch) makes us ask
// the reporter for its commit (evidence.go), and only a second commit
// that verifies as the owner's for that epoch raises EventEquivocation,
// carrying both commits.
//
// Control body (inside an EnvelopeControl):
//
//	ctl      u8    = ctlDigest
//	count    u16   (<= maxDigestEntries)
//	entries  count x { group u8 len bytes; owner [32]; epoch u64; commit hash [32] }

const (
	ctlDigest        = 1
	ctlInvite        = 2
	ctlInvitePrivate = 3
	ctlResend        = 4
	ctlEvidenceAsk   = 5
	ctlEvidence      = 6
	ctlRoles         = 7 // powers.go
	ctlSecret        = 8
	// ctlInvitePrivate2: a private room's invitation with its roles and
	// latest secret update (invite.go).
	ctlInvitePrivate2 = 9
	maxInviteName     = 64
	maxDigestEntries  = 1024
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
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(ctlDigest)
	b.AddUint16(uint16(len(entries)))
	for _, e := range entries {
		if len(e.Group) > maxGroupID {
			return nil, fmt.Errorf("%w: group id of %d bytes", ErrMalformed, len(e.Group))
		}
		addBytes8(b, e.Group)
		b.AddBytes(e.Owner[:])
		b.AddUint64(e.Epoch)
		b.AddBytes(e.Hash[:])
	}
	return built(b)
}

// UnmarshalDigest decodes a digest control body.
func UnmarshalDigest(b []byte) ([]DigestEntry, error) {
	s := cryptobyte.String(b)
	var ctl uint8
	var n uint16
	if !s.ReadUint8(&ctl) || !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: digest header", ErrMalformed)
	}
	if ctl != ctlDigest {
		return nil, fmt.Errorf("%w: control type %d", ErrMalformed, ctl)
	}
	if n > maxDigestEntries {
		return nil, fmt.Errorf("%w: %d digest entries", ErrTooLarge, n)
	}
	out := make([]DigestEntry, 0, min(int(n), 64))
	for i := 0; i < int(n); i++ {
		var e DigestEntry
		if !readBytes8(&s, &e.Group, maxGroupID) || !s.CopyBytes(e.Owner[:]) || !s.ReadUint64(&e.Epoch) || !s.CopyBytes(e.Hash[:]) {
			return nil, fmt.Errorf("%w: digest entry %d", ErrMalformed, i)
		}
		out = append(out, e)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
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

// forkWatch remembers the commit hashes seen or reported per (group,
// epoch), and which (group, epoch) already raised an alert.
type forkWatch struct {
	seen    map[forkKey][]forkSeen // at most maxSightings each
	order   []forkKey
	alerted map[forkKey]bool
}

// maxSightings bounds the different hashes remembered for one epoch.
const maxSightings = 4

func newForkWatch() *forkWatch {
	return &forkWatch{seen: map[forkKey][]forkSeen{}, alerted: map[forkKey]bool{}}
}

// observe records that reporter saw hash for (group, epoch) and returns
// the other hashes seen for it (a conflict when not empty).
func (f *forkWatch) observe(group []byte, epoch uint64, hash [32]byte, reporter Fingerprint) []forkSeen {
	k := forkKey{string(group), epoch}
	prev, ok := f.seen[k]
	if !ok {
		f.order = append(f.order, k)
		for len(f.order) > forkHistory {
			delete(f.seen, f.order[0])
			delete(f.alerted, f.order[0])
			f.order = f.order[1:]
		}
	}
	var others []forkSeen
	known := false
	for _, p := range prev {
		if p.hash == hash {
			known = true
		} else {
			others = append(others, p)
		}
	}
	if !known && len(prev) < maxSightings {
		f.seen[k] = append(prev, forkSeen{hash: hash, reporter: reporter})
	}
	return others
}

// Digest lists the latest commit we applied in each receive group.
func (s *Session) Digest() []DigestEntry {
	var out []DigestEntry
	for _, rg := range s.byOwner {
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
	return s.ProtectEnvelope(&Envelope{From: s.id.PublicKey(), ID: id, SentAt: s.env.Now().UTC(), Kind: EnvelopeControl, Body: body})
}

func (s *Session) handleControl(rg *recvGroup, e *Envelope, out *Output) error {
	body := e.Body
	if len(body) > 0 && body[0] == ctlResend {
		room, inner, err := UnmarshalResend(body)
		if err != nil {
			return err
		}
		if !inner.AddressedTo(s.id.Fingerprint()) {
			return fmt.Errorf("%w: re-sent %v", ErrNotForUs, inner.ID)
		}
		out.event(Event{Type: EventResent, Peer: rg.owner, Nick: rg.ownerNick, Envelope: inner, Room: room})
		return nil
	}
	if len(body) > 0 && (body[0] == ctlEvidenceAsk || body[0] == ctlEvidence) {
		return s.handleEvidence(rg, body, out)
	}
	if len(body) > 0 && (body[0] == ctlInvite || body[0] == ctlInvitePrivate || body[0] == ctlInvitePrivate2) {
		inv, err := UnmarshalInvite(body)
		if err != nil {
			return err
		}
		out.event(Event{Type: EventInvite, Peer: rg.owner, Nick: rg.ownerNick, Envelope: e, Detail: inv.Room, Secret: inv.Secret,
			Roles: inv.Roles, Update: inv.Update})
		return nil
	}
	if len(body) > 0 && (body[0] == ctlRoles || body[0] == ctlSecret) {
		ctl, rec, err := unmarshalPowers(body)
		if err != nil {
			return err
		}
		ev := Event{Type: EventPowers, Peer: rg.owner, Nick: rg.ownerNick, Envelope: e}
		if ctl == ctlRoles {
			ev.Roles = rec
		} else {
			ev.Update = rec
		}
		out.event(ev)
		return nil
	}
	entries, err := UnmarshalDigest(body)
	if err != nil {
		return err
	}
	budget := maxAsksPerDigest
	for _, e := range entries {
		if err := s.observeCommit(e.Group, e.Epoch, e.Hash, rg.owner, &budget, out); err != nil {
			return err
		}
	}
	return nil
}
