package dmls

import (
	"fmt"
)

func (s *Session) buffer(rg *recvGroup, m *Message) error {
	if m.Epoch-rg.cur.Epoch() > s.cfg.MaxEpochAhead {
		return fmt.Errorf("%w: epoch %d, group at %d", ErrEpochAhead, m.Epoch, rg.cur.Epoch())
	}
	if len(rg.buffered) >= s.cfg.MaxBuffered {
		return fmt.Errorf("%w: buffer of %d full", ErrEpochAhead, s.cfg.MaxBuffered)
	}
	size := m.size()
	if rg.bufBytes+size > s.cfg.MaxBufferedBytes {
		return fmt.Errorf("%w: buffer of %d bytes full", ErrEpochAhead, s.cfg.MaxBufferedBytes)
	}
	rg.buffered = append(rg.buffered, buffered{m: m, at: s.env.Now(), size: size})
	rg.bufBytes += size
	return nil
}

// Buffered reports how many messages wait for a commit in all groups.
func (s *Session) Buffered() int {
	n := 0
	for _, rg := range s.byOwner {
		n += len(rg.buffered)
	}
	return n
}

// BufferedBytes reports their size.
func (s *Session) BufferedBytes() int {
	n := 0
	for _, rg := range s.byOwner {
		n += rg.bufBytes
	}
	return n
}

// drain processes buffered messages that the group's epoch has caught up
// with, in arrival order; errors of individual messages are dropped, as
// they would have been on arrival.
func (s *Session) drain(rg *recvGroup) Output {
	var out Output
	for progress := true; progress; {
		progress = false
		for i, b := range rg.buffered {
			if b.m.Epoch > rg.cur.Epoch() {
				continue
			}
			rg.buffered = append(rg.buffered[:i:i], rg.buffered[i+1:]...)
			rg.bufBytes -= b.size
			o, _ := s.handleGroupMessage(rg.owner, b.m)
			out.add(o)
			progress = true
			break
		}
		if s.byOwner[rg.owner] != rg {
			break // removed meanwhile
		}
	}
	return out
}

// Tick runs the time-driven policy: expire kept epochs, detect gaps, commit
// held proposals, rekey our send group and propose Updates of our leaf in
// receive groups when each is due, and gossip commit digests.
func (s *Session) Tick() (Output, error) {
	now := s.env.Now()
	var out Output
	s.id.keys.Expire(now)
	for _, owner := range s.owners() {
		rg := s.byOwner[owner]
		if rg.prev != nil && !now.Before(rg.prevUntil) {
			rg.prev = nil
		}
		if len(rg.buffered) > 0 && now.Sub(rg.buffered[0].at) >= s.cfg.GapTimeout {
			rg.buffered, rg.bufBytes = nil, 0
			o, err := s.requestRejoin(owner)
			out.add(o)
			if err != nil {
				return out, err
			}
		}
	}
	o, err := s.readmitDeferred()
	out.add(o)
	if err != nil {
		return out, err
	}
	o, err = s.answerOwed()
	out.add(o)
	if err != nil {
		return out, err
	}
	if now.Sub(s.lastUpdate) >= s.cfg.UpdateInterval || s.send.PendingProposals() > 0 {
		o, err := s.commit()
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	o, err = s.proposeUpdates(false)
	out.add(o)
	if err != nil {
		return out, err
	}
	if s.digestDirty && now.Sub(s.lastDigest) >= s.cfg.DigestInterval {
		o, err := s.PublishDigest()
		out.add(o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
