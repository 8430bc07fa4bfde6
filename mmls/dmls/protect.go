package dmls

import (
	"bytes"
	"fmt"
	"io"
	"sort"
)

// Protect is the DMLS PROTECT of a text message to our send group as it
// is. By the draft's policy it first commits any proposals we hold, and an
// UPDATE when one is due.
func (s *Session) Protect(text string) (Output, *Envelope, error) {
	e, err := s.NewEnvelope(text)
	if err != nil {
		return Output{}, nil, err
	}
	out, err := s.ProtectEnvelope(e)
	return out, e, err
}

// NewEnvelope makes a text envelope with a fresh id, addressed to the
// members of our send group (newcomers whose Adds are held included) and
// to the given absent members (members we
// had before a restart that are not back yet: they get the message when
// they rejoin). Kicked peers and we ourselves are never addressed.
func (s *Session) NewEnvelope(text string, absent ...Fingerprint) (*Envelope, error) {
	return s.newEnvelope(EnvelopeText, []byte(text), absent)
}

// NewFileEnvelope makes a file offer's envelope, addressed as NewEnvelope
// addresses text: its recipients are who may fetch the file.
func (s *Session) NewFileEnvelope(offer []byte, absent ...Fingerprint) (*Envelope, error) {
	return s.newEnvelope(EnvelopeFile, offer, absent)
}

func (s *Session) newEnvelope(kind EnvelopeKind, body []byte, absent []Fingerprint) (*Envelope, error) {
	to := s.sendRecipients()
	for fp := range s.held {
		to = append(to, fp) // ProtectEnvelope commits their Adds first
	}
	for _, fp := range absent {
		if fp != s.id.Fingerprint() && !s.Kicked(fp) && !s.refuses(fp) {
			to = append(to, fp)
		}
	}
	return s.envelope(kind, body, to)
}

// NewInvite makes the control envelope that invites to, alone, to room
// (with its secret when it is private). It belongs in a direct room: the
// name and the secret travel only inside MLS.
func (s *Session) NewInvite(room string, secret []byte, to Fingerprint) (*Envelope, error) {
	body, err := InviteBody(room, secret)
	if err != nil {
		return nil, err
	}
	return s.envelope(EnvelopeControl, body, []Fingerprint{to})
}

func (s *Session) envelope(kind EnvelopeKind, body []byte, to []Fingerprint) (*Envelope, error) {
	id, err := s.newMessageID()
	if err != nil {
		return nil, err
	}
	sort.Slice(to, func(i, j int) bool { return bytes.Compare(to[i][:], to[j][:]) < 0 })
	to = dedupe(to)
	e := &Envelope{From: s.id.PublicKey(), ID: id, SentAt: s.env.Now().UTC(), Kind: kind, Body: body, To: to}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

// dedupe removes adjacent repeats from a sorted list.
func dedupe(fps []Fingerprint) []Fingerprint {
	out := fps[:0]
	for i, fp := range fps {
		if i == 0 || fp != fps[i-1] {
			out = append(out, fp)
		}
	}
	return out
}

func (s *Session) newMessageID() (MessageID, error) {
	var id MessageID
	if _, err := io.ReadFull(s.env.Rand, id[:]); err != nil {
		return id, fmt.Errorf("dmls: randomness: %w", err)
	}
	return id, nil
}

// ProtectEnvelope protects e (new, or one sent before that a member has
// not acknowledged: re-protecting keeps its id, so receivers dedupe) in the
// current epoch, for every member of our send group; only the members in
// e.To show it. On error the Output may still hold a commit that advanced
// our group: the caller must send it.
func (s *Session) ProtectEnvelope(e *Envelope) (Output, error) {
	var out Output
	if s.send.PendingProposals() > 0 || s.updateDue() {
		c, err := s.commit()
		out.add(c)
		if err != nil {
			return out, err
		}
	}
	if e.To == nil {
		e.To = s.sendRecipients()
	}
	if e.Sig == nil {
		// Signed once: a re-protection keeps the signature, so every
		// copy of the message, however it travels, is the same.
		if err := e.Sign(s.id, s.room); err != nil {
			return out, err
		}
	}
	plain, err := e.Marshal()
	if err != nil {
		return out, err
	}
	ct, err := s.send.Protect(plain)
	if err != nil {
		return out, fmt.Errorf("dmls: protect: %w", classify(err))
	}
	s.sinceUpdate++
	data, err := s.msg(KindApp, s.send.GroupID(), s.send.Epoch(), ct, nil)
	if err != nil {
		return out, err
	}
	for _, fp := range s.sendRecipients() {
		out.Sends = append(out.Sends, Outgoing{To: fp, Kind: KindApp, Data: data})
	}
	return out, nil
}

func (s *Session) updateDue() bool {
	return s.sinceUpdate >= s.cfg.UpdateEvery || s.env.Now().Sub(s.lastUpdate) >= s.cfg.UpdateInterval
}
