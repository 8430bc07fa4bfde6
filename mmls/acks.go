package mmls

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Acknowledgements: what we hold of each author's messages (our record
// per room, told to authors on the channel and to members as a signed
// record), what others hold of ours (Delivered), and the numbers our
// messages take per recipient. Holding and handing on are in handon.go.
// acks is a room's acknowledgement state: what we hold of each author's
// messages, and the latest record of each other member.
type acks struct {
	mine    map[ID]*dmls.AckEntry
	dirty   map[ID]bool           // entries to write
	undo    map[ID]*dmls.AckEntry // entries as the open batch found them (nil: new in it)
	due     map[ID][]string       // authors to tell after the batch, and of which messages
	version uint64                // of our last record
	signed  []byte                // our record as last signed (nil: changed since)
	told    uint64                // the version of ours the members last had from us (broadcast)
	// theirs: each member's latest record; news: kept on the next tick.
	theirs map[ID]*peerAcks
	news   map[ID]bool
	// met: members we exchanged records with since they came online;
	// passed: when we last handed on to each.
	met    map[ID]bool
	passed map[ID]time.Time
}

type peerAcks struct {
	rec *dmls.Acks
	raw []byte
	// verified: its signature was checked (a member's own record is
	// taken on the channel's word, and checked before it is handed on).
	verified bool
}

// loadAcks reads r's acknowledgement state.
func (e *Engine) loadAcks(r *room) error {
	a := &acks{mine: map[ID]*dmls.AckEntry{}, dirty: map[ID]bool{}, undo: map[ID]*dmls.AckEntry{}, due: map[ID][]string{}, theirs: map[ID]*peerAcks{},
		news: map[ID]bool{}, met: map[ID]bool{}, passed: map[ID]time.Time{}}
	mine, err := e.st.AckEntries(r.name)
	if err != nil {
		return err
	}
	for k, raw := range mine {
		author, ok := ParseID(k)
		entry, err := dmls.UnmarshalEntry(raw)
		if !ok || err != nil || entry.Author != author {
			e.cfg.Logf("mmls: room %s: a damaged acknowledgement entry for %q: dropped", r.name, k)
			continue
		}
		a.mine[author] = &entry
	}
	if a.version, err = e.st.AckVersion(r.name); err != nil {
		return err
	}
	theirs, err := e.st.PeerAcks(r.name)
	if err != nil {
		return err
	}
	for k, raw := range theirs {
		member, ok := ParseID(k)
		rec, err := dmls.UnmarshalAcks(raw)
		if !ok || err != nil || rec.Member() != member || rec.Room != r.id {
			continue
		}
		a.theirs[member] = &peerAcks{rec: rec, raw: raw}
	}
	r.acks = a
	return nil
}

// numberFor gives env its sequence number for each recipient (the next
// after the last we gave each in r) and returns them, and a way to take
// them back if the message is not sent after all.
func (e *Engine) numberFor(r *room, env *dmls.Envelope) (map[string]uint64, func(), error) {
	if r.seqs == nil {
		last, err := e.st.LastSeqs(r.name)
		if err != nil {
			return nil, nil, storageErr(err)
		}
		r.seqs = last
	}
	before := make(map[string]uint64, len(env.To))
	seqs := make(map[string]uint64, len(env.To))
	env.Seq = make([]uint64, len(env.To))
	for i, fp := range env.To {
		k := fp.String()
		before[k] = r.seqs[k]
		r.seqs[k]++
		env.Seq[i], seqs[k] = r.seqs[k], r.seqs[k]
	}
	undo := func() {
		for k, v := range before {
			r.seqs[k] = v
		}
	}
	return seqs, undo, nil
}

// stored notes that we hold author's message env in r (stored for good
// once the batch is): our record changes, and the author is told after
// the batch.
func (e *Engine) stored(r *room, author ID, env *dmls.Envelope) {
	seq, ok := env.SeqFor(e.me)
	if !ok || seq == 0 {
		return
	}
	a := r.acks
	entry := a.mine[author]
	if _, saved := a.undo[author]; !saved && e.commit.held != nil {
		// What the batch found, in case it fails: then we hold none of
		// what it stored.
		var was *dmls.AckEntry
		if entry != nil {
			c := *entry
			c.Gaps = slices.Clone(entry.Gaps)
			was = &c
		}
		a.undo[author] = was
	}
	if entry == nil {
		entry = &dmls.AckEntry{Author: author}
		a.mine[author] = entry
	}
	if entry.Add(seq) {
		a.dirty[author], a.signed = true, nil
	}
	// Told even when it is not news: a message that comes again means
	// its author did not hear that we hold it.
	a.due[author] = append(a.due[author], hex.EncodeToString(env.ID[:]))
	if e.commit.held == nil {
		e.flushAcks()
	}
}

// endAcks ends a batch for the acknowledgement state: when its commit
// failed, the entries are as they were before it (what it stored is not
// held, and nobody was told).
func (e *Engine) endAcks(failed bool) {
	if failed {
		for _, p := range e.ours.unpended {
			e.addPending(p) // not acknowledged after all
		}
		for key := range e.quota.added {
			delete(e.quota.used, key) // read again from the store
		}
		clear(e.quota.added)
	}
	e.ours.unpended = e.ours.unpended[:0]
	for _, r := range e.rooms {
		if failed {
			r.seqs = nil // numbers given in it were not stored: read again
		}
		a := r.acks
		if failed && len(a.undo) > 0 {
			for author, was := range a.undo {
				if was == nil {
					delete(a.mine, author)
				} else {
					a.mine[author] = was
				}
			}
			a.signed = nil
		}
		clear(a.undo)
	}
}

// flushAcks writes the entries that changed and tells their authors what
// we hold, once the batch is durable: one record per room and author, at
// most once per batch.
func (e *Engine) flushAcks() {
	e.flushQuota()
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		a := r.acks
		for author := range a.dirty {
			raw, err := dmls.MarshalEntry(*a.mine[author])
			if err == nil {
				err = e.st.PutAckEntry(r.name, author.String(), raw)
			}
			if err != nil {
				e.fail(storageErr(err))
			}
		}
		clear(a.dirty)
		if len(a.due) == 0 {
			continue
		}
		// Each author that is online hears what we hold of its
		// messages; when one is not, the members online do, to hand it
		// on when it is back.
		var to []ID
		away := false
		for author := range a.due {
			if p := e.peers[author]; p != nil && p.online {
				to = append(to, author)
			} else {
				away = true
			}
		}
		due := a.due
		a.due = map[ID][]string{}
		slices.SortFunc(to, func(x, y ID) int { return compareIDs(x, y) })
		for _, author := range to {
			// To the author itself, only its own entry, on the channel's
			// word: no signature (the signed record goes to holders, who
			// hand it on: tellMembers, meet).
			entry, err := dmls.MarshalEntry(*a.mine[author])
			if err != nil {
				continue
			}
			payload := frame.New(frame.Ack, r.id[:], entry)
			e.sendLater(author, payload, true, storedNote(author, due[author]))
		}
		if away && !r.direct {
			e.tellMembers(r, to)
		}
	}
}

// storedNote is the log line written just before an acknowledgement
// leaves (after the batch that stored what it acknowledges is durable).
func storedNote(author ID, ids []string) string {
	var b strings.Builder
	b.WriteString("mmls:")
	for i, id := range ids {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more;", len(ids)-i)
			break
		}
		fmt.Fprintf(&b, " message %s from %s stored;", id, author.Short())
	}
	b.WriteString(" acknowledgement follows")
	return b.String()
}

func compareIDs(x, y ID) int {
	for i := range x {
		if x[i] != y[i] {
			return int(x[i]) - int(y[i])
		}
	}
	return 0
}

// tellMembers sends our record of r to every online member but those in
// told already (after the batch, if one is open).
func (e *Engine) tellMembers(r *room, told []ID) {
	rec := e.ackRecord(r)
	if rec == nil {
		return
	}
	r.acks.told = r.acks.version
	for _, p := range e.sortedPeers() {
		if p.online && !slices.Contains(told, p.id) && e.shares(r, p.id) {
			e.sendLater(p.id, frame.New(frame.Acks, rec), true, "")
		}
	}
}

// sortedPeers lists the peers in a stable order.
func (e *Engine) sortedPeers() []*peerState {
	out := make([]*peerState, 0, len(e.peers))
	for _, p := range e.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y *peerState) int { return compareIDs(x.id, y.id) })
	return out
}

// ackRecord is our signed record for r (signed again only when it
// changed).
func (e *Engine) ackRecord(r *room) []byte {
	a := r.acks
	if a.signed != nil {
		return a.signed
	}
	rec := &dmls.Acks{Room: r.id, Version: max(a.version+1, uint64(e.now().UnixNano()))}
	authors := make([]ID, 0, len(a.mine))
	for author := range a.mine {
		authors = append(authors, author)
	}
	// Past the bound, the members we are linked with first.
	slices.SortFunc(authors, func(x, y ID) int {
		lx, ly := r.s.HasGroupOf(x), r.s.HasGroupOf(y)
		switch {
		case lx && !ly:
			return -1
		case ly && !lx:
			return 1
		}
		return compareIDs(x, y)
	})
	if len(authors) > dmls.MaxAckAuthors {
		authors = authors[:dmls.MaxAckAuthors]
	}
	for _, author := range authors {
		rec.Entries = append(rec.Entries, *a.mine[author])
	}
	if err := e.st.PutAckVersion(r.name, rec.Version); err != nil {
		e.fail(storageErr(err))
		return nil
	}
	if err := rec.Sign(e.id); err != nil {
		e.cfg.Logf("mmls: room %s: acknowledgements: %v", r.name, err)
		return nil
	}
	raw, err := rec.Marshal()
	if err != nil {
		e.cfg.Logf("mmls: room %s: acknowledgements: %v", r.name, err)
		return nil
	}
	a.version, a.signed = rec.Version, raw
	return raw
}

// meet starts the exchange with a member that came online in r: our
// record goes to it, its record comes back, and each hands on what the
// other misses.
func (e *Engine) meet(r *room, peer ID) {
	if rec := e.ackRecord(r); rec != nil {
		e.send(peer, frame.New(frame.Acks, rec))
	}
}

// onAck takes what peer holds of our messages in a room, said to us on
// the channel (it authenticates peer): our marks move.
func (e *Engine) onAck(from ID, body []byte) {
	if len(body) < 32 {
		e.cfg.Logf("mmls: from %s: an acknowledgement of %d bytes", from.Short(), len(body))
		return
	}
	var id dmls.RoomID
	copy(id[:], body)
	entry, err := dmls.UnmarshalEntry(body[32:])
	r := e.byID[id]
	switch {
	case err != nil:
		e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
	case r == nil:
		e.cfg.Logf("mmls: from %s: an acknowledgement for a room we are not in", from.Short())
	case entry.Author != e.me:
		e.cfg.Logf("mmls: from %s: an acknowledgement of someone else's messages: ignored", from.Short())
	case !e.shares(r, from):
		e.cfg.Logf("mmls: from %s: an acknowledgement in %s, which it is not a member of", from.Short(), r.name)
	default:
		e.delivered(r, from, entry)
	}
}

// onAcks takes an acknowledgement record from peer: the member's own, or
// one a member hands on (then its signature is checked).
func (e *Engine) onAcks(from ID, body []byte) {
	rec, err := dmls.UnmarshalAcks(body)
	if err != nil {
		e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
		return
	}
	r := e.byID[rec.Room]
	member := rec.Member()
	switch {
	case r == nil:
		e.cfg.Logf("mmls: from %s: acknowledgements for a room we are not in", from.Short())
		return
	case member == e.me:
		return // ours, handed back
	case !e.shares(r, from):
		e.cfg.Logf("mmls: from %s: acknowledgements of %s, which it is not a member of", from.Short(), r.name)
		return
	case member != from && e.distrusted(from):
		return
	case member != from:
		if err := rec.Verify(); err != nil {
			e.badHeld(from, "acknowledgements", err)
			return
		}
		if !e.isMember(r, member) {
			return
		}
	}
	a := r.acks
	if old := a.theirs[member]; old == nil || old.rec.Version < rec.Version {
		a.theirs[member] = &peerAcks{rec: rec, raw: append([]byte(nil), body...), verified: member != from}
		a.news[member] = true
		e.delivered(r, member, rec.Entry(e.me))
	}
	if member != from {
		return
	}
	first := !a.met[member]
	if first || e.now().Sub(a.passed[member]) >= HandOnEvery {
		a.met[member] = true
		e.handOn(r, member, first)
	}
}

// delivered turns what member holds of our messages into Delivered
// events.
func (e *Engine) delivered(r *room, member ID, entry dmls.AckEntry) {
	idx := e.ours.pending[r.name][member]
	if entry.Upto == 0 || len(idx) == 0 {
		return
	}
	var seqs []uint64
	for seq := range idx {
		if entry.Has(seq) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		id := idx[seq]
		news, _, err := e.st.Acknowledge(id, member.String())
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			e.fail(storageErr(err))
			return
		case news:
			e.emit(&Delivered{Room: r.name, MsgID: id, To: member})
		}
		delete(idx, seq)
		if e.commit.held != nil {
			e.ours.unpended = append(e.ours.unpended, pendingSeq{room: r.name, to: member, seq: seq, id: id})
		}
	}
}

// pendingSeq is one of our messages a recipient has not acknowledged.
type pendingSeq struct {
	room string
	to   ID
	seq  uint64
	id   string
}

// pend notes that o waits for each of its pending recipients.
func (e *Engine) pend(o store.Outgoing) {
	if o.Seqs == nil && o.Sealed != nil {
		env, err := dmls.UnmarshalEnvelope(o.Sealed)
		if err != nil {
			e.cfg.Logf("mmls: outbox entry %s: %v", o.ID, err)
			return
		}
		o.Seqs = map[string]uint64{}
		for i, to := range env.To {
			o.Seqs[to.String()] = env.SeqOf(i)
		}
	}
	for _, to := range o.Pending() {
		fp, ok := ParseID(to)
		if seq := o.Seqs[to]; ok && seq > 0 {
			e.addPending(pendingSeq{room: o.Room, to: fp, seq: seq, id: o.ID})
		}
	}
}

func (e *Engine) addPending(p pendingSeq) {
	byTo := e.ours.pending[p.room]
	if byTo == nil {
		byTo = map[ID]map[uint64]string{}
		e.ours.pending[p.room] = byTo
	}
	if byTo[p.to] == nil {
		byTo[p.to] = map[uint64]string{}
	}
	byTo[p.to][p.seq] = p.id
}

// loadPending reads what our outbox waits for.
func (e *Engine) loadPending() error {
	out, err := e.st.Outbox()
	if err != nil {
		return err
	}
	for _, o := range out {
		e.pend(o)
	}
	return nil
}

// unacked is what our messages' recipients have not acknowledged: by room,
// recipient and the sequence number they have for each (from the outbox,
// kept in step with it); unpended, what the open batch took out of it, put
// back if the batch fails.
type unacked struct {
	pending  map[string]map[ID]map[uint64]string
	unpended []pendingSeq
}
