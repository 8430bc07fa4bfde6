package dmls

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// commit commits our pending proposals (or rekeys our leaf) and addresses
// the bundle to the members that were in the group before it, Welcomes to
// the ones it added, and the bundle to the ones it removed (so they learn
// of it).
func (s *Session) commit() (Output, error) { return s.commitFlags(0) }

// commitFlags is commit with wire flags (FlagDeparture for removals that
// are departures, so receivers do not propagate them).
func (s *Session) commitFlags(flags uint8) (Output, error) {
	before := s.sendRecipients()
	secret, err := s.env.secret()
	if err != nil {
		return Output{}, err
	}
	gid := s.send.GroupID()
	w, werr := s.send.Witness()
	bundle, welcome, info, err := s.send.Commit(secret)
	if err != nil {
		return Output{}, fmt.Errorf("dmls: commit: %w", classify(err))
	}
	clear(s.held) // committed (a refused commit keeps its proposals pending)
	if werr == nil {
		s.keep(w, bundle.Commit)
	}
	s.sinceUpdate, s.lastUpdate = 0, s.env.Now()
	for _, ms := range [][]mlsguard.Member{info.Added, info.Updated} {
		for _, m := range ms {
			s.refreshed[m.Fingerprint()] = s.lastUpdate
		}
	}
	for _, m := range info.Removed {
		if !s.InSendGroup(m.Fingerprint()) {
			delete(s.refreshed, m.Fingerprint())
		}
	}
	var out Output
	me := s.id.Fingerprint()
	if err := s.observeCommit(gid, info.FromEpoch, info.Hash, me, nil, &out); err != nil {
		return out, err
	}
	m := &Message{Kind: KindCommit, Flags: flags, Room: s.room, Group: gid, Epoch: info.FromEpoch,
		Data: bundle.Commit, Proposals: bundle.Proposals}
	cm, err := m.Marshal()
	if err != nil {
		return Output{}, err
	}
	readded := map[Fingerprint]bool{}
	for _, m := range info.Added {
		readded[m.Fingerprint()] = true
	}
	for _, fp := range before {
		// A member re-added in this commit (a rejoin) gets only the
		// Welcome: its old state is gone.
		if !readded[fp] {
			out.Sends = append(out.Sends, Outgoing{To: fp, Kind: KindCommit, Data: cm})
		}
	}
	if welcome != nil {
		wm, err := s.msg(KindWelcome, gid, info.Epoch, welcome, nil)
		if err != nil {
			return Output{}, err
		}
		for _, m := range info.Added {
			out.Sends = append(out.Sends, Outgoing{To: m.Fingerprint(), Kind: KindWelcome, Data: wm})
		}
	}
	for _, e := range membershipEvents(info, me, flags&FlagDeparture != 0) {
		out.event(e)
	}
	return out, nil
}

// membershipEvents turns a commit's changes into events; a member removed
// and re-added in one commit is a rejoin, not a removal. departure marks
// removals that only reflect the member leaving.
func membershipEvents(info mlsguard.CommitInfo, by Fingerprint, departure bool) []Event {
	added := map[Fingerprint]bool{}
	for _, m := range info.Added {
		added[m.Fingerprint()] = true
	}
	removed := map[Fingerprint]bool{}
	var out []Event
	for _, m := range info.Removed {
		fp := m.Fingerprint()
		removed[fp] = true
		typ := EventMemberRemoved
		if added[fp] {
			typ = EventRejoined
		}
		out = append(out, Event{Type: typ, Peer: fp, Nick: m.Nick, By: by, Epoch: info.Epoch, Departure: departure && typ == EventMemberRemoved})
	}
	for _, m := range info.Added {
		if fp := m.Fingerprint(); !removed[fp] {
			out = append(out, Event{Type: EventMemberAdded, Peer: fp, Nick: m.Nick, By: by, Epoch: info.Epoch})
		}
	}
	return out
}

// Update is the DMLS UPDATE: a path commit of our own leaf in our send
// group, and an Update proposal for our leaf in every receive group, sent to
// its owner (who commits it; we apply the cached secret when it does).
func (s *Session) Update() (Output, error) {
	out, err := s.commit()
	if err != nil {
		return out, err
	}
	o, err := s.proposeUpdates(true)
	out.add(o)
	return out, err
}

// proposeUpdates proposes an Update of our leaf to each receive group's
// owner whose group has it due (all of them when force).
func (s *Session) proposeUpdates(force bool) (Output, error) {
	var out Output
	for _, owner := range s.owners() {
		o, err := s.proposeUpdate(s.byOwner[owner], force)
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// proposeUpdate proposes an Update of our leaf in rg to its owner if it is
// due (not rotated for UpdateInterval) or forced. One proposal per epoch:
// the owner refuses a second, and go-mls finds the secret of the one
// committed among those we hold by a 15-bit reference. A proposal is bound
// to its epoch, so one that crossed a commit is void: we propose again
// as soon as we apply the commit (see applyCommit), and an owner rekeys
// at least every UpdateInterval, so one it never got is made again too.
func (s *Session) proposeUpdate(rg *recvGroup, force bool) (Output, error) {
	var out Output
	if !force && s.env.Now().Sub(rg.rotated) < s.cfg.UpdateInterval || rg.proposedAt == rg.cur.Epoch()+1 {
		return out, nil
	}
	secret, err := s.env.secret()
	if err != nil {
		return out, err
	}
	prop, err := rg.cur.ProposeUpdate(s.id.mls, secret)
	if err != nil {
		return out, fmt.Errorf("dmls: update: %w", classify(err))
	}
	data, err := s.msg(KindProposal, rg.gid, rg.cur.Epoch(), prop, nil)
	if err != nil {
		return out, err
	}
	rg.proposedAt = rg.cur.Epoch() + 1
	out.Sends = append(out.Sends, Outgoing{To: rg.owner, Kind: KindProposal, Data: data})
	return out, nil
}

// owners lists the owners of our receive groups in a stable order.
func (s *Session) owners() []Fingerprint {
	out := make([]Fingerprint, 0, len(s.byOwner))
	for fp := range s.byOwner {
		out = append(out, fp)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}
