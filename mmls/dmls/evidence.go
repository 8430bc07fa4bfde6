package dmls

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// Evidence of equivocation. When a reported commit hash for a (group,
// epoch) differs from the commit we applied (or made) for it, we ask the
// reporter, inside our send group and addressed to it alone, for its
// commit. Its answer counts only if it verifies, against the witness we
// kept of that epoch (the group context the owner signed over and the
// owner's key), as a commit the owner signed; then the owner signed two
// commits for one epoch, and EventEquivocation carries both. A forged
// digest costs its author one request and raises nothing.
//
// Control bodies (inside an EnvelopeControl):
//
//	ask       ctl u8 = ctlEvidenceAsk | group u8 len bytes | epoch u64
//	evidence  ctl u8 = ctlEvidence    | group u8 len bytes | epoch u64 | context u32 len bytes | commit u32 len bytes
//
// The context is the GroupContext the owner signed the commit over (the
// branches of a fork may differ in it); it must name the same group and
// epoch, and the key that signed is the owner's as we know it.

// Equivocation is the evidence an EventEquivocation carries: two commits
// the owner signed for one epoch of its group (ours first, then the one
// Reporter applied).
type Equivocation struct {
	Group    []byte
	Epoch    uint64
	Commits  [2][]byte
	Hashes   [2][32]byte
	Reporter Fingerprint
}

// keptCommit is a commit we applied or made, with the witness of the epoch
// it started from.
type keptCommit struct {
	w      mlsguard.Witness
	commit []byte
}

// keepCommits bounds the commits kept as evidence, over all groups.
const keepCommits = 256

// keep remembers commit for (group, epoch).
func (s *Session) keep(w mlsguard.Witness, commit []byte) {
	k := forkKey{string(w.Group), w.Epoch}
	if _, ok := s.kept[k]; !ok {
		s.keptOrder = append(s.keptOrder, k)
	}
	s.kept[k] = keptCommit{w: w, commit: commit}
	for len(s.keptOrder) > keepCommits {
		delete(s.kept, s.keptOrder[0])
		s.keptOrder = s.keptOrder[1:]
	}
}

// maxAsksPerDigest bounds the evidence requests one digest makes us send
// (each is a message to our whole send group): a digest full of made-up
// hashes costs its author little more than one.
const maxAsksPerDigest = 4

// observeCommit records that reporter saw hash for (group, epoch). When
// it differs from the commit we applied there, it asks the reporter for
// its commit; when the commit is ours, just applied, it asks those who
// reported others before. budget, when not nil, is how many requests may
// still go out, and is spent.
func (s *Session) observeCommit(group []byte, epoch uint64, hash [32]byte, reporter Fingerprint, budget *int, out *Output) error {
	k := forkKey{string(group), epoch}
	earlier := s.forks.observe(group, epoch, hash, reporter)
	mine, ok := s.kept[k]
	if !ok || s.forks.alerted[k] {
		return nil // not a commit we applied: we cannot judge it
	}
	ours := mlsguard.CommitHash(mine.commit)
	me := s.id.Fingerprint()
	if reporter != me {
		if hash == ours {
			return nil
		}
		return s.askEvidence(reporter, k, budget, out)
	}
	for _, x := range earlier {
		if x.hash != ours && x.reporter != me {
			if err := s.askEvidence(x.reporter, k, budget, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// askEvidence asks peer, once, for the commit it applied for k.
func (s *Session) askEvidence(peer Fingerprint, k forkKey, budget *int, out *Output) error {
	key := peer.String() + k.group + fmt.Sprint(k.epoch)
	if s.evidenceAsked[key] || !s.InSendGroup(peer) || budget != nil && *budget <= 0 {
		return nil
	}
	if budget != nil {
		*budget--
	}
	if len(s.evidenceAsked) >= forkHistory {
		clear(s.evidenceAsked)
	}
	s.evidenceAsked[key] = true
	body, err := (&EvidenceBody{Group: []byte(k.group), Epoch: k.epoch}).Marshal()
	if err != nil {
		return err
	}
	return s.control(body, peer, out)
}

// control protects a control body addressed to peer alone.
func (s *Session) control(body []byte, peer Fingerprint, out *Output) error {
	id, err := s.newMessageID()
	if err != nil {
		return err
	}
	o, err := s.ProtectEnvelope(&Envelope{From: s.id.PublicKey(), ID: id, SentAt: s.env.Now().UTC(), Kind: EnvelopeControl, To: []Fingerprint{peer}, Body: body})
	out.add(o)
	return err
}

// answerEvidence answers from's request with the commit we kept, once.
func (s *Session) answerEvidence(from Fingerprint, k forkKey, out *Output) error {
	mine, ok := s.kept[k]
	key := "answer" + from.String() + k.group + fmt.Sprint(k.epoch)
	if !ok || s.evidenceAsked[key] || !s.InSendGroup(from) {
		return nil
	}
	if len(s.evidenceAsked) >= forkHistory {
		clear(s.evidenceAsked)
	}
	s.evidenceAsked[key] = true
	body, err := (&EvidenceBody{Group: []byte(k.group), Epoch: k.epoch, Context: mine.w.Context, Commit: mine.commit}).Marshal()
	if err != nil {
		return err
	}
	return s.control(body, from, out)
}

// judge checks a commit reporter says the owner made for k, signed over
// context (nil: the context we kept), against what we kept: a second
// commit the owner signed raises the alert with both.
func (s *Session) judge(k forkKey, context, commit []byte, reporter Fingerprint, out *Output) error {
	mine, ok := s.kept[k]
	if !ok || s.forks.alerted[k] {
		return nil
	}
	w := mine.w
	if context != nil {
		w.Context = context
	}
	if err := mlsguard.VerifyCommit(w, commit); err != nil {
		return fmt.Errorf("%w: commit from %s for epoch %d: %w", ErrNoEvidence, reporter.Short(), k.epoch, classify(err))
	}
	ours, theirs := mlsguard.CommitHash(mine.commit), mlsguard.CommitHash(commit)
	if ours == theirs {
		if reporter == s.id.Fingerprint() {
			return nil // the owner sent us again the commit we applied
		}
		return fmt.Errorf("%w: %s reported another commit for epoch %d and showed ours", ErrNoEvidence, reporter.Short(), k.epoch)
	}
	s.forks.alerted[k] = true
	owner := mlsguard.FingerprintOf(mine.w.OwnerKey)
	out.event(Event{
		Type: EventEquivocation, By: owner, Peer: reporter, Epoch: k.epoch,
		Detail: fmt.Sprintf("owner %s signed two commits for epoch %d of group %x: %x (ours) and %x (applied by %s)",
			owner.Short(), k.epoch, []byte(k.group), ours[:6], theirs[:6], reporter.Short()),
		Evidence: &Equivocation{Group: []byte(k.group), Epoch: k.epoch, Commits: [2][]byte{mine.commit, commit},
			Hashes: [2][32]byte{ours, theirs}, Reporter: reporter},
	})
	return nil
}

// handleEvidence acts on an evidence request or answer from the owner of
// rg.
func (s *Session) handleEvidence(rg *recvGroup, body []byte, out *Output) error {
	ev, err := UnmarshalEvidence(body)
	if err != nil {
		return err
	}
	k := forkKey{string(ev.Group), ev.Epoch}
	if ev.Commit == nil {
		return s.answerEvidence(rg.owner, k, out)
	}
	return s.judge(k, ev.Context, ev.Commit, rg.owner, out)
}

// EvidenceBody is a decoded evidence request (Commit nil) or answer.
type EvidenceBody struct {
	Group           []byte
	Epoch           uint64
	Context, Commit []byte
}

// Marshal encodes the body: a request when Commit is nil.
func (ev *EvidenceBody) Marshal() ([]byte, error) {
	if len(ev.Group) > maxGroupID || len(ev.Context) > mlsguard.MaxContextSize || len(ev.Commit) > MaxControlSize {
		return nil, fmt.Errorf("%w: evidence of %d/%d/%d bytes", ErrTooLarge, len(ev.Group), len(ev.Context), len(ev.Commit))
	}
	b := cryptobyte.NewBuilder(nil)
	if ev.Commit == nil {
		b.AddUint8(ctlEvidenceAsk)
	} else {
		b.AddUint8(ctlEvidence)
	}
	addBytes8(b, ev.Group)
	b.AddUint64(ev.Epoch)
	if ev.Commit != nil {
		b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ev.Context) })
		b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ev.Commit) })
	}
	return built(b)
}

// UnmarshalEvidence decodes an evidence control body.
func UnmarshalEvidence(b []byte) (*EvidenceBody, error) {
	s := cryptobyte.String(b)
	var ctl uint8
	ev := &EvidenceBody{}
	if !s.ReadUint8(&ctl) || ctl != ctlEvidenceAsk && ctl != ctlEvidence ||
		!readBytes8(&s, &ev.Group, maxGroupID) || !s.ReadUint64(&ev.Epoch) {
		return nil, fmt.Errorf("%w: evidence header", ErrMalformed)
	}
	if ctl == ctlEvidence && (!readBytes32(&s, &ev.Context, mlsguard.MaxContextSize) || !readBytes32(&s, &ev.Commit, MaxControlSize) || ev.Commit == nil) {
		return nil, fmt.Errorf("%w: evidence commit", ErrMalformed)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	return ev, nil
}
