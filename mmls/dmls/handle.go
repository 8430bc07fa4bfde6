package dmls

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// Handle decodes data and handles it (see [Session.HandleMessage]).
func (s *Session) Handle(from Fingerprint, data []byte) (Output, error) {
	m, err := UnmarshalMessage(data)
	if err != nil {
		return Output{}, err
	}
	return s.HandleMessage(from, m)
}

// HandleMessage processes one decoded DMLS message that the transport
// authenticated as coming from peer `from`. Messages for a future epoch are
// buffered (nil error, nothing reported) until their commit arrives.
func (s *Session) HandleMessage(from Fingerprint, m *Message) (Output, error) {
	if m.Room != s.room {
		return Output{}, ErrWrongRoom
	}
	if from == s.id.Fingerprint() {
		return Output{}, fmt.Errorf("%w: message from ourselves", ErrMalformed)
	}
	if s.Kicked(from) {
		// Tell the peer we are not in its room any more, so it stops
		// counting us as a member (at most once per GapTimeout).
		var out Output
		if at, ok := s.limits.refused[from]; m.Kind != KindLeave && (!ok || s.env.Now().Sub(at) >= s.cfg.GapTimeout) {
			s.limits.refused[from] = s.env.Now()
			out, _ = s.leaveMsg(from)
		}
		return out, fmt.Errorf("%w: %s", ErrKicked, from.Short())
	}
	if s.refuses(from) {
		return Output{}, fmt.Errorf("%w: %s is not part of this conversation", ErrNotMember, from.Short())
	}
	switch m.Kind {
	case KindKeyPackage, KindRejoin:
		return s.handleKeyPackage(from, m)
	case KindLeave:
		return s.handleLeave(from)
	case KindWelcome:
		return s.handleWelcome(from, m)
	case KindProposal:
		return s.handleProposal(from, m)
	case KindCommit, KindApp:
		return s.handleGroupMessage(from, m)
	}
	return Output{}, fmt.Errorf("%w: kind %v", ErrMalformed, m.Kind)
}

// handleKeyPackage acts on a peer's KeyPackage. From a peer not in our
// send group it always means "add me" (a Hello, or the answer to our
// HelloSendYours). From a member, an unsolicited HelloAddMe, or a REJOIN,
// means the peer lost its state in our group: the stale leaf is removed and
// the fresh package added in one commit. HelloSendYours is answered with
// our own KeyPackage.
func (s *Session) handleKeyPackage(from Fingerprint, m *Message) (Output, error) {
	kp, err := mlsguard.ParseKeyPackage(m.Data)
	if err != nil {
		return Output{}, classify(err)
	}
	if kp.Fingerprint() != from {
		return Output{}, fmt.Errorf("%w: key package of another identity", ErrAuth)
	}
	member := s.InSendGroup(from)
	if !member && !s.vouched(from) {
		return Output{}, s.wait(from, m)
	}
	flags := m.Epoch
	lostState := m.Kind == KindRejoin || flags&HelloAddMe != 0 && flags&HelloReply == 0
	var limited error
	if member && lostState {
		if at, ok := s.limits.readmitted[from]; ok && s.env.Now().Sub(at) < s.readmitPause() {
			// Each re-admission costs a commit: one per pause, and the
			// latest request is served when the pause is over (Tick).
			s.deferred[from] = kp
			lostState = false
			limited = fmt.Errorf("%w: %s asked to be re-added again within %v; deferred", ErrRateLimited, from.Short(), s.readmitPause())
		} else {
			s.limits.readmitted[from] = s.env.Now()
			delete(s.deferred, from)
		}
	}
	var out Output
	if !member || lostState {
		c, err := s.admit(from, kp)
		if errors.Is(err, ErrRoomFull) && !member {
			c, err = s.roomFull(from, kp)
		}
		out.add(c)
		if err != nil {
			return out, err
		}
	}
	if m.Kind == KindKeyPackage && flags&HelloSendYours != 0 {
		if !s.mayAnswer(from) {
			s.limits.owed[from] = true
			return out, fmt.Errorf("%w: %s asked for our key package more than %d times in %v; deferred", ErrRateLimited, from.Short(), answerBurst, s.answerWindow())
		}
		o, err := s.answer(from)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, limited
}

// answerBurst KeyPackages a peer may ask of us per answerWindow (more
// than a restart and a rejoin take); the rest wait.
const answerBurst = 4

func (s *Session) answerWindow() time.Duration { return answerBurst * s.readmitPause() }

// mayAnswer forgets answers older than the window and reports whether
// peer may have another.
func (s *Session) mayAnswer(peer Fingerprint) bool {
	recent := s.limits.answered[peer][:0]
	for _, at := range s.limits.answered[peer] {
		if s.env.Now().Sub(at) < s.answerWindow() {
			recent = append(recent, at)
		}
	}
	if len(recent) == 0 {
		delete(s.limits.answered, peer)
	} else {
		s.limits.answered[peer] = recent
	}
	return len(recent) < answerBurst
}

// answer sends peer our KeyPackage, as it asked.
func (s *Session) answer(peer Fingerprint) (Output, error) {
	s.limits.answered[peer] = append(s.limits.answered[peer], s.env.Now())
	delete(s.limits.owed, peer)
	return s.keyPackageTo(peer, KindKeyPackage, s.helloFlags(peer)|HelloReply)
}

// answerOwed answers the peers that asked for our KeyPackage too soon,
// once their pause is over, if they are still not kicked.
func (s *Session) answerOwed() (Output, error) {
	peers := make([]Fingerprint, 0, len(s.limits.owed))
	for fp := range s.limits.owed {
		peers = append(peers, fp)
	}
	sort.Slice(peers, func(i, j int) bool { return bytes.Compare(peers[i][:], peers[j][:]) < 0 })
	var out Output
	for _, fp := range peers {
		if !s.mayAnswer(fp) {
			continue
		}
		if s.Kicked(fp) || s.refuses(fp) {
			delete(s.limits.owed, fp)
			continue
		}
		o, err := s.answer(fp)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// readmitPause is the shortest time between two re-admissions of one
// member.
func (s *Session) readmitPause() time.Duration { return s.cfg.GapTimeout / 6 }

// readmitDeferred re-admits the members whose requests waited out their
// pause, if they are still members and not kicked.
func (s *Session) readmitDeferred() (Output, error) {
	var out Output
	peers := make([]Fingerprint, 0, len(s.deferred))
	for fp := range s.deferred {
		peers = append(peers, fp)
	}
	sort.Slice(peers, func(i, j int) bool { return bytes.Compare(peers[i][:], peers[j][:]) < 0 })
	for _, fp := range peers {
		if s.env.Now().Sub(s.limits.readmitted[fp]) < s.readmitPause() {
			continue
		}
		kp := s.deferred[fp]
		delete(s.deferred, fp)
		if !s.InSendGroup(fp) || s.Kicked(fp) {
			continue // gone meanwhile
		}
		s.limits.readmitted[fp] = s.env.Now()
		o, err := s.admit(fp, kp)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// admit adds peer with kp, replacing a stale leaf it already has.
func (s *Session) admit(peer Fingerprint, kp *mlsguard.KeyPackage) (Output, error) {
	old, ok := s.sendMember(peer)
	if !ok {
		return s.addParsed([]*mlsguard.KeyPackage{kp})
	}
	if err := s.send.ProposeRemove(old.Leaf); err != nil {
		return Output{}, classify(err)
	}
	if err := s.send.ProposeAdd(kp); err != nil {
		return Output{}, classify(err)
	}
	return s.commit()
}

// handleLeave: peer asks to be removed from our send group and to have us
// forget its own.
func (s *Session) handleLeave(from Fingerprint) (Output, error) {
	if !s.InSendGroup(from) && !s.HasGroupOf(from) {
		return Output{}, fmt.Errorf("%w: %s", ErrNotMember, from.Short())
	}
	s.departed[from] = true
	return s.unlink(from, false)
}

func (s *Session) handleWelcome(from Fingerprint, m *Message) (Output, error) {
	if len(m.Group) == 0 {
		return Output{}, fmt.Errorf("%w: welcome without a group id", ErrMalformed)
	}
	if !s.vouched(from) {
		return Output{}, s.wait(from, m)
	}
	hashes, err := mlsguard.WelcomeTarget(m.Data)
	if err != nil {
		return Output{}, classify(err)
	}
	entry := s.id.keys.take(hashes, s.env.Now())
	if entry == nil {
		// Made for a KeyPackage we no longer hold (we restarted since, or
		// it expired): the owner counts us in, so ask it to re-add us.
		out, _ := s.requestRejoin(from)
		return out, fmt.Errorf("%w: from %s", ErrStaleWelcome, from.Short())
	}
	j := mlsguard.Joiner{Identity: s.id.mls, KeyPackage: entry.kp, InitSecret: entry.secret}
	g, err := mlsguard.Join(j, m.Data, from, m.Group)
	clear(entry.secret)
	if err != nil {
		return Output{}, classify(err)
	}
	if g.Epoch() != m.Epoch {
		return Output{}, fmt.Errorf("%w: welcome epoch %d, header %d", ErrMalformed, g.Epoch(), m.Epoch)
	}
	owner, _ := g.Owner()
	// Receive groups are keyed by their owner: whatever group id another
	// member claims, it cannot shadow this one.
	rg := &recvGroup{owner: from, ownerNick: owner.Nick, gid: g.GroupID(), cur: g, rotated: s.env.Now()}
	s.byOwner[from] = rg
	delete(s.limits.asked, from)
	delete(s.departed, from)
	out := s.admitWaiting() // the members of this group are vouched for now
	out.event(Event{Type: EventJoined, Peer: from, Nick: owner.Nick, By: from, Epoch: g.Epoch()})
	if !s.InSendGroup(from) && !s.held[from] && !s.Kicked(from) {
		// Complete the link: ask for the owner's KeyPackage.
		o, err := s.keyPackageTo(from, KindKeyPackage, HelloSendYours)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (s *Session) handleProposal(from Fingerprint, m *Message) (Output, error) {
	if !bytes.Equal(m.Group, s.send.GroupID()) {
		return Output{}, fmt.Errorf("%w: proposal for a group we do not own", ErrUnknownGroup)
	}
	if m.Epoch != s.send.Epoch() {
		// Proposals are bound to an epoch; the member re-proposes later.
		return Output{}, fmt.Errorf("%w: proposal for epoch %d, we are at %d", ErrEpochOld, m.Epoch, s.send.Epoch())
	}
	if err := s.send.HandleProposal(m.Data, from); err != nil {
		return Output{}, classify(err)
	}
	return Output{}, nil
}

// handleGroupMessage routes a commit or application message from a send
// group's owner by epoch: now, buffered for later, or refused.
func (s *Session) handleGroupMessage(from Fingerprint, m *Message) (Output, error) {
	rg := s.byOwner[from]
	if rg == nil || !bytes.Equal(rg.gid, m.Group) {
		if other, ok := s.ownerOf(m.Group); ok && other != from {
			return Output{}, fmt.Errorf("%w: group of %s, sent by %s", ErrNotOwner, other.Short(), from.Short())
		}
		// The owner still counts us as a member, but we hold no state for
		// this group of its: ask to be re-added.
		out, _ := s.requestRejoin(from)
		return out, fmt.Errorf("%w: %x from %s", ErrUnknownGroup, m.Group, from.Short())
	}
	cur := rg.cur.Epoch()
	switch {
	case m.Epoch > cur:
		return Output{}, s.buffer(rg, m)
	case m.Kind == KindCommit:
		return s.applyCommit(rg, m)
	case m.Epoch == cur:
		return s.unprotect(rg, rg.cur, m)
	case m.Epoch+1 == cur && rg.prev != nil && s.env.Now().Before(rg.prevUntil):
		return s.unprotect(rg, rg.prev, m)
	}
	return Output{}, fmt.Errorf("%w: epoch %d, group at %d", ErrEpochOld, m.Epoch, cur)
}

func (s *Session) applyCommit(rg *recvGroup, m *Message) (Output, error) {
	if m.Epoch < rg.cur.Epoch() {
		h := mlsguard.CommitBundle{Commit: m.Data}.Hash()
		if rg.hasCommit && m.Epoch == rg.lastEpoch && h == rg.lastHash {
			return Output{}, fmt.Errorf("%w: commit for epoch %d", ErrDuplicate, m.Epoch)
		}
		// The owner sent us a commit for an epoch we are past: if it is
		// another one it signed, that is the evidence itself.
		var out Output
		if err := s.judge(forkKey{string(rg.gid), m.Epoch}, nil, m.Data, s.id.Fingerprint(), &out); err != nil {
			return out, err
		}
		return out, fmt.Errorf("%w: commit for epoch %d, group at %d", ErrEpochOld, m.Epoch, rg.cur.Epoch())
	}
	w, werr := rg.cur.Witness()
	next, info, err := rg.cur.ApplyCommit(mlsguard.CommitBundle{Proposals: m.Proposals, Commit: m.Data})
	if errors.Is(err, mlsguard.ErrRemoved) {
		s.dropGroupOf(rg.owner)
		var out Output
		out.event(Event{Type: EventRemoved, Peer: s.id.Fingerprint(), By: rg.owner, Nick: rg.ownerNick, Epoch: info.Epoch})
		return out, nil
	}
	if err != nil {
		err = classify(err)
		if errors.Is(err, ErrAuth) {
			// An authenticated owner's commit we cannot apply (for example
			// it commits an Update whose secret we no longer hold): our
			// state is unrecoverable, ask to be re-added.
			out, _ := s.requestRejoin(rg.owner)
			return out, err
		}
		return Output{}, err
	}
	var out Output
	rg.prev, rg.prevUntil, rg.cur = rg.cur, s.env.Now().Add(s.cfg.EpochGrace), next
	rg.lastEpoch, rg.lastHash, rg.hasCommit = info.FromEpoch, info.Hash, true
	for _, u := range info.Updated {
		if u.Fingerprint() == s.id.Fingerprint() {
			rg.rotated = s.env.Now()
			out.event(Event{Type: EventRotated, By: rg.owner, Nick: rg.ownerNick, Epoch: info.Epoch})
		}
	}
	s.digestDirty = true
	if werr == nil {
		s.keep(w, m.Data)
	}
	if err := s.observeCommit(rg.gid, info.FromEpoch, info.Hash, s.id.Fingerprint(), nil, &out); err != nil {
		return out, err
	}
	out.event(Event{Type: EventUpdated, By: rg.owner, Nick: rg.ownerNick, Epoch: info.Epoch})
	out.Events = append(out.Events, membershipEvents(info, rg.owner, m.Flags&FlagDeparture != 0)...)
	out.add(s.liftFollowedKicks(info, rg.owner))
	if m.Flags&FlagDeparture == 0 {
		prop, err := s.propagateRemovals(info, rg.owner)
		out.add(prop)
		if err != nil {
			return out, err
		}
	}
	out.add(s.drain(rg))
	out.add(s.admitWaiting())
	if s.byOwner[rg.owner] == rg {
		// Our Update is due and the one we made (if any) was for the epoch
		// just ended: propose now, first thing in the new epoch.
		o, err := s.proposeUpdate(rg, false)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// propagateRemovals applies the draft's rule: when an owner removes X from
// its send group, we remove X from ours too (and do not re-add it on our
// own), because X can no longer follow the commits that will follow.
func (s *Session) propagateRemovals(info mlsguard.CommitInfo, remover Fingerprint) (Output, error) {
	readded := map[Fingerprint]bool{}
	for _, m := range info.Added {
		readded[m.Fingerprint()] = true
	}
	var out, leaves Output
	proposed := false
	for _, x := range info.Removed {
		fp := x.Fingerprint()
		if readded[fp] || fp == s.id.Fingerprint() || s.Kicked(fp) {
			continue
		}
		if s.follow != nil && !s.follow(remover) {
			out.event(Event{Type: EventRemovalIgnored, Peer: fp, Nick: x.Nick, By: remover, Epoch: info.Epoch})
			continue
		}
		s.kicked[fp] = remover
		delete(s.limits.asked, fp)
		s.dropGroupOf(fp)
		o, err := s.leaveMsg(fp)
		leaves.add(o)
		if err != nil {
			return out, err
		}
		if m, ok := s.sendMember(fp); ok {
			if err := s.send.ProposeRemove(m.Leaf); err != nil {
				return out, classify(err)
			}
			proposed = true
		}
	}
	if proposed {
		c, err := s.commit()
		out.add(c)
		if err != nil {
			return out, err
		}
	}
	out.add(leaves) // after the commit, so removed peers learn of it first
	return out, nil
}

func (s *Session) unprotect(rg *recvGroup, g *mlsguard.Group, m *Message) (Output, error) {
	plain, err := g.Unprotect(m.Data)
	if err != nil {
		return Output{}, classify(err)
	}
	e, err := UnmarshalEnvelope(plain)
	if err != nil {
		return Output{}, err
	}
	if e.Author() != rg.owner {
		// An owner may not pass another's signed message for its own.
		return Output{}, fmt.Errorf("%w: a message of %s in the group of %s", ErrAuth, e.Author().Short(), rg.owner.Short())
	}
	if !e.AddressedTo(s.id.Fingerprint()) {
		return Output{}, fmt.Errorf("%w: %v", ErrNotForUs, e.ID)
	}
	var out Output
	switch e.Kind {
	case EnvelopeText, EnvelopeFile:
		out.event(Event{Type: EventMessage, Peer: rg.owner, Nick: rg.ownerNick, Envelope: e, Epoch: m.Epoch})
	case EnvelopeControl:
		if err := s.handleControl(rg, e, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// requestRejoin sends owner a REJOIN with a fresh KeyPackage, at most once
// per GapTimeout.
func (s *Session) requestRejoin(owner Fingerprint) (Output, error) {
	if s.departed[owner] {
		return Output{}, nil
	}
	if at, ok := s.limits.asked[owner]; ok && s.env.Now().Sub(at) < s.cfg.GapTimeout {
		return Output{}, nil
	}
	out, err := s.keyPackageTo(owner, KindRejoin, HelloAddMe)
	if err != nil {
		return out, err
	}
	out.event(Event{Type: EventNeedRejoin, By: owner})
	return out, nil
}
