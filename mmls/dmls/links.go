package dmls

import (
	"bytes"
	"fmt"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// Hello returns what it takes to form a two-way link with peer in this
// room: our KeyPackage, flagged HelloAddMe when we hold no state for peer's
// send group and HelloSendYours when peer is not in ours. It returns an
// empty Output when the link is whole or an earlier request to peer is
// younger than GapTimeout, and refuses a kicked peer.
func (s *Session) Hello(peer Fingerprint) (Output, error) {
	if peer == s.id.Fingerprint() {
		return Output{}, fmt.Errorf("%w: hello to ourselves", ErrMalformed)
	}
	if s.Kicked(peer) {
		return Output{}, fmt.Errorf("%w: %s", ErrKicked, peer.Short())
	}
	if s.refuses(peer) {
		return Output{}, fmt.Errorf("%w: %s is not part of this conversation", ErrNotMember, peer.Short())
	}
	flags := s.helloFlags(peer)
	if flags == 0 {
		return Output{}, nil
	}
	if at, ok := s.limits.asked[peer]; ok && s.env.Now().Sub(at) < s.cfg.GapTimeout {
		return Output{}, nil
	}
	return s.keyPackageTo(peer, KindKeyPackage, flags)
}

func (s *Session) helloFlags(peer Fingerprint) uint64 {
	var flags uint64
	if !s.HasGroupOf(peer) {
		flags |= HelloAddMe
	}
	if !s.InSendGroup(peer) && !s.held[peer] {
		flags |= HelloSendYours
	}
	return flags
}

func (s *Session) keyPackageTo(peer Fingerprint, kind Kind, flags uint64) (Output, error) {
	kp, err := s.id.NewKeyPackage(s.env, peer)
	if err != nil {
		return Output{}, err
	}
	var group []byte
	if rg := s.byOwner[peer]; rg != nil {
		group = rg.gid
	}
	data, err := s.msg(kind, group, flags, kp.Bytes(), nil)
	if err != nil {
		return Output{}, err
	}
	s.limits.asked[peer] = s.env.Now()
	return Output{Sends: []Outgoing{{To: peer, Kind: kind, Data: data}}}, nil
}

// Add adds the owners of the given KeyPackages to our send group in one
// commit (INIT when the group is new, ADD afterwards). An explicit Add
// lifts an earlier kick.
func (s *Session) Add(kps ...[]byte) (Output, error) {
	var parsed []*mlsguard.KeyPackage
	for _, raw := range kps {
		kp, err := mlsguard.ParseKeyPackage(raw)
		if err != nil {
			return Output{}, fmt.Errorf("dmls: add: %w", classify(err))
		}
		parsed = append(parsed, kp)
	}
	for _, kp := range parsed {
		delete(s.kicked, kp.Fingerprint())
		delete(s.limits.refused, kp.Fingerprint())
	}
	return s.addParsed(parsed)
}

func (s *Session) addParsed(kps []*mlsguard.KeyPackage) (Output, error) {
	members := len(s.sendRecipients())
	var fresh []*mlsguard.KeyPackage
	for _, kp := range kps {
		fp := kp.Fingerprint()
		if fp == s.id.Fingerprint() {
			return Output{}, fmt.Errorf("%w: cannot add ourselves", ErrMalformed)
		}
		if !s.InSendGroup(fp) && !s.held[fp] {
			fresh = append(fresh, kp)
		}
	}
	if len(fresh) == 0 {
		return Output{}, nil
	}
	if members+len(s.held)+len(fresh) > s.cfg.RoomSize {
		return Output{}, fmt.Errorf("%w: %d members (max %d)", ErrRoomFull, members+len(s.held)+len(fresh), s.cfg.RoomSize)
	}
	for _, kp := range fresh {
		if err := s.send.ProposeAdd(kp); err != nil {
			return Output{}, fmt.Errorf("dmls: add: %w", classify(err))
		}
	}
	if s.cfg.HoldAdds {
		for _, kp := range fresh {
			s.held[kp.Fingerprint()] = true
		}
		return Output{}, nil
	}
	return s.commit()
}

// PreferMembers says whom a full room makes room for: a newcomer prefer
// says yes to takes the place of the member that came last of those it
// says no to (that one is removed as a departure, which nobody follows,
// and waits); others wait. Both are reported (EventRoomFull).
func (s *Session) PreferMembers(prefer func(peer Fingerprint) bool) { s.prefer = prefer }

// roomFull handles a newcomer our full send group has no place for.
func (s *Session) roomFull(from Fingerprint, kp *mlsguard.KeyPackage) (Output, error) {
	var out Output
	if s.prefer == nil || !s.prefer(from) {
		out.event(Event{Type: EventRoomFull, Peer: from, Detail: "waits"})
		return out, nil
	}
	var victim Fingerprint
	found := false
	for _, fp := range s.sendRecipients() {
		if s.prefer(fp) {
			continue
		}
		if !found || s.refreshed[fp].After(s.refreshed[victim]) || s.refreshed[fp].Equal(s.refreshed[victim]) && bytes.Compare(fp[:], victim[:]) > 0 {
			victim, found = fp, true
		}
	}
	if !found {
		out.event(Event{Type: EventRoomFull, Peer: from, Detail: "waits"})
		return out, nil
	}
	// Out of our send group only, as a departure: nobody follows it.
	m, _ := s.sendMember(victim)
	if err := s.send.ProposeRemove(m.Leaf); err != nil {
		return out, classify(err)
	}
	o, err := s.commitFlags(FlagDeparture)
	out.add(o)
	if err != nil {
		return out, err
	}
	out.event(Event{Type: EventRoomFull, Peer: victim, Detail: "made room"})
	c, err := s.addParsed([]*mlsguard.KeyPackage{kp})
	out.add(c)
	return out, err
}

// Held reports whether Adds wait for CommitHeld.
func (s *Session) Held() bool { return len(s.held) > 0 }

// CommitHeld commits the Adds held (HoldAdds), all in one commit.
func (s *Session) CommitHeld() (Output, error) {
	if len(s.held) == 0 {
		return Output{}, nil
	}
	return s.commit()
}

// Remove removes peer from our send group (a kick): it reads nothing we
// send from now on. We also stop reading its send group and ask it to drop
// us from it (KindLeave). It is not re-added unless [Session.Add] is called
// for it again.
func (s *Session) Remove(peer Fingerprint) (Output, error) {
	if !s.InSendGroup(peer) && !s.held[peer] && !s.HasGroupOf(peer) {
		return Output{}, fmt.Errorf("%w: %s", ErrNotMember, peer.Short())
	}
	s.kicked[peer] = s.id.Fingerprint()
	return s.unlink(peer, true)
}

// Restrict limits the session to the given peers: KeyPackages, Welcomes
// and Hellos of anyone else are refused. A direct conversation is a
// session restricted to its two people, so nobody else can join it even
// knowing its name.
func (s *Session) Restrict(peers ...Fingerprint) {
	s.allowed = map[Fingerprint]bool{}
	for _, p := range peers {
		s.allowed[p] = true
	}
}

func (s *Session) refuses(peer Fingerprint) bool { return s.allowed != nil && !s.allowed[peer] }

// MarkKicked restores a kick recorded before a restart: peer is not
// re-added on its own and its messages are refused.
// by is who caused it: us, or the owner whose removal we followed.
func (s *Session) MarkKicked(peer, by Fingerprint) { s.kicked[peer] = by }

// Kicked reports whether peer is kicked from this room.
func (s *Session) Kicked(peer Fingerprint) bool {
	_, ok := s.kicked[peer]
	return ok
}

// KickedBy reports who caused peer's removal: us, or the owner whose
// removal we followed.
func (s *Session) KickedBy(peer Fingerprint) (Fingerprint, bool) {
	by, ok := s.kicked[peer]
	return by, ok
}

// FollowRemovals sets whose removals this session follows in its own
// group (nil: everyone's, the draft's rule). A removal not followed is
// reported as EventRemovalIgnored.
func (s *Session) FollowRemovals(follow func(remover Fingerprint) bool) { s.follow = follow }

// FollowReadmissions sets, beside the owner that removed a peer, whose
// re-admission of it lifts a removal we followed (a private room's
// admins: any admin's /unkick undoes any admin's /kick).
func (s *Session) FollowReadmissions(by func(owner Fingerprint) bool) { s.readmitters = by }

// Unkick lifts a kick of peer (ours, or one we followed) and says hello
// to it, so the link forms again if it wants it.
func (s *Session) Unkick(peer Fingerprint) (Output, error) {
	if !s.Kicked(peer) {
		return Output{}, fmt.Errorf("%w: %s is not removed", ErrNotMember, peer.Short())
	}
	s.lift(peer)
	return s.Hello(peer)
}

func (s *Session) lift(peer Fingerprint) {
	delete(s.kicked, peer)
	delete(s.limits.refused, peer)
	delete(s.departed, peer)
	delete(s.limits.asked, peer)
}

// liftFollowedKicks: when an owner re-adds a member whose removal by that
// owner we followed, we lift our kick too (a re-admission propagates as
// the removal did), and say hello to it.
func (s *Session) liftFollowedKicks(info mlsguard.CommitInfo, owner Fingerprint) Output {
	var out Output
	for _, m := range info.Added {
		fp := m.Fingerprint()
		if by, ok := s.kicked[fp]; ok && owner != s.id.Fingerprint() && (by == owner || s.readmitters != nil && s.readmitters(owner)) {
			s.lift(fp)
			out.event(Event{Type: EventKickLifted, Peer: fp, Nick: m.Nick, By: owner, Epoch: info.Epoch})
			o, _ := s.Hello(fp)
			out.add(o)
		}
	}
	return out
}

// Leave leaves the room: every owner whose group we are in is asked to
// remove us, and we forget their groups. Our own send group is left as it
// is (removing everyone in one commit would make each of them propagate the
// others' removal); the engine discards the session afterwards.
func (s *Session) Leave() (Output, error) {
	var out Output
	for _, owner := range s.owners() {
		o, err := s.leaveMsg(owner)
		out.add(o)
		if err != nil {
			return out, err
		}
		s.dropGroupOf(owner)
	}
	return out, nil
}

func (s *Session) leaveMsg(peer Fingerprint) (Output, error) {
	data, err := s.msg(KindLeave, nil, 0, nil, nil)
	if err != nil {
		return Output{}, err
	}
	return Output{Sends: []Outgoing{{To: peer, Kind: KindLeave, Data: data}}}, nil
}

// unlink removes peer from our send group (one commit) and drops its send
// group. A kick (tell) propagates, and peer is sent KindLeave so it drops us
// from its group; otherwise the removal is a departure (the peer left us)
// and others do not propagate it.
func (s *Session) unlink(peer Fingerprint, tell bool) (Output, error) {
	var out Output
	if s.held[peer] {
		// Its Add waits in our group: commit it now so the removal
		// below takes it out (else the Add would outlive the removal).
		c, err := s.commit()
		out.add(c)
		if err != nil {
			return out, err
		}
	}
	delete(s.limits.asked, peer)
	s.dropGroupOf(peer)
	if m, ok := s.sendMember(peer); ok {
		if err := s.send.ProposeRemove(m.Leaf); err != nil {
			return out, fmt.Errorf("dmls: remove: %w", classify(err))
		}
		var flags uint8
		if !tell {
			flags = FlagDeparture
		}
		c, err := s.commitFlags(flags)
		out.add(c)
		if err != nil {
			return out, err
		}
	}
	if tell {
		// After the commit, so the peer learns of its removal first.
		o, err := s.leaveMsg(peer)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (s *Session) dropGroupOf(owner Fingerprint) {
	if rg := s.byOwner[owner]; rg != nil {
		delete(s.byOwner, owner)
	}
}

// peerLimits is how often each peer had what costs us work: asked, when
// we last sent it a KeyPackage or REJOIN; refused, when we last told it
// (kicked) that we left; readmitted, when we last replaced its leaf
// because it said it lost its state (each a commit); answered, when we
// sent it our KeyPackage because it asked (HelloSendYours), lately, and
// owed, a peer that asked more often than answerBurst per answerWindow,
// answered by Tick when it may be (each answer is a KeyPackage we hold).
type peerLimits struct {
	asked, refused, readmitted map[Fingerprint]time.Time
	answered                   map[Fingerprint][]time.Time
	owed                       map[Fingerprint]bool
}
