package dmls

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// Config is a session's policy. Zero fields take the defaults.
type Config struct {
	// UpdateEvery: the owner commits an UPDATE of its own leaf at least
	// every UpdateEvery application messages (default 100)...
	UpdateEvery int
	// UpdateInterval: ...or every UpdateInterval (default 10 minutes), and
	// proposes an Update of its leaf in every receive group as often.
	UpdateInterval time.Duration
	// EpochGrace: how long the previous epoch of a receive group is kept so
	// late messages still decrypt (default 2 minutes).
	EpochGrace time.Duration
	// GapTimeout: a message buffered for a future epoch longer than this
	// means its commit is lost: the gap is unrecoverable and we ask the
	// owner to re-add us (REJOIN). Also the pause between two REJOIN or
	// KeyPackage requests to one peer (default 30 s).
	GapTimeout time.Duration
	// DigestInterval: how often commit digests are gossiped (default 1 min).
	DigestInterval time.Duration
	// MaxBuffered bounds the future-epoch buffer of one receive group
	// (default 256 messages).
	MaxBuffered int
	// MaxEpochAhead bounds how far ahead a buffered message may be
	// (default 16 epochs).
	MaxEpochAhead uint64
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.UpdateEvery <= 0 {
		c.UpdateEvery = 100
	}
	def(&c.UpdateInterval, 10*time.Minute)
	def(&c.EpochGrace, 2*time.Minute)
	def(&c.GapTimeout, 30*time.Second)
	def(&c.DigestInterval, time.Minute)
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = 256
	}
	if c.MaxEpochAhead == 0 {
		c.MaxEpochAhead = 16
	}
	return c
}

// MaxMembers caps a room (our send group) well below go-mls's 128-leaf
// limit; blank leaves left by removals also count against
// mlsguard.MaxLeaves.
const MaxMembers = 100

// Outgoing is one DMLS message for one peer.
type Outgoing struct {
	To   Fingerprint
	Kind Kind
	Data []byte
}

// EventType says what happened.
type EventType int

// Events a session reports.
const (
	// EventMessage: Peer sent Envelope (a text message) in its send group.
	EventMessage EventType = iota + 1
	// EventJoined: we joined the send group of Peer.
	EventJoined
	// EventMemberAdded / EventMemberRemoved: By's send group gained or lost
	// Peer (By is us for our own group).
	EventMemberAdded
	EventMemberRemoved
	// EventRemoved: By removed us from its send group.
	EventRemoved
	// EventRejoined: Peer lost its state and was re-added to By's group.
	EventRejoined
	// EventNeedRejoin: our state in By's group is unrecoverable; a REJOIN
	// request went to By.
	EventNeedRejoin
	// EventEquivocation: two different commits were seen for one epoch of
	// By's send group: By sent different members different histories.
	EventEquivocation
	// EventUpdated: By's group moved to a new epoch (an UPDATE or commit).
	EventUpdated
	// EventInvite: Peer invites us to the room named in Detail.
	EventInvite
)

func (t EventType) String() string {
	names := [...]string{"", "message", "joined", "member-added", "member-removed", "removed",
		"rejoined", "need-rejoin", "equivocation", "updated", "invite"}
	if int(t) > 0 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("event(%d)", int(t))
}

// Event is something the engine should know about.
type Event struct {
	Type     EventType
	Peer     Fingerprint
	Nick     string
	By       Fingerprint
	Envelope *Envelope
	Epoch    uint64
	Detail   string
}

// Output is what a session call produced: messages to send, in order, and
// events to report.
type Output struct {
	Sends  []Outgoing
	Events []Event
}

func (o *Output) add(other Output) {
	o.Sends = append(o.Sends, other.Sends...)
	o.Events = append(o.Events, other.Events...)
}

func (o *Output) event(e Event) { o.Events = append(o.Events, e) }

// Session is one DMLS session: one chat room. It holds our send group and
// one receive group per member whose send group we joined.
//
// A Session is pure: no I/O, no goroutines, time and randomness from Env.
// It is not safe for concurrent use; one goroutine (the engine) owns it.
type Session struct {
	id   *Identity
	env  Env
	cfg  Config
	room RoomID

	send    *mlsguard.Group
	kicked  map[Fingerprint]bool
	recv    map[string]*recvGroup
	byOwner map[Fingerprint]*recvGroup
	// asked: when we last sent a peer a KeyPackage or REJOIN (rate limit).
	asked map[Fingerprint]time.Time
	// refused: when we last told a kicked peer we left (rate limit).
	refused map[Fingerprint]time.Time
	// departed: peers that asked us to leave their group; we do not ask
	// them to re-add us on our own.
	departed map[Fingerprint]bool

	// allowed, when set, is the only set of peers this session links with
	// (a direct two-person room).
	allowed map[Fingerprint]bool
	// readmitted: when we last replaced a member's leaf because it said it
	// lost its state (each costs a commit: rate-limited).
	readmitted map[Fingerprint]time.Time

	sinceUpdate int
	lastUpdate  time.Time
	lastDigest  time.Time
	digestDirty bool
	forks       *forkWatch
}

type recvGroup struct {
	owner      Fingerprint
	ownerNick  string
	gid        []byte
	cur, prev  *mlsguard.Group
	prevUntil  time.Time
	buffered   []buffered
	lastEpoch  uint64 // epoch our latest applied commit started from
	lastHash   [32]byte
	hasCommit  bool
	proposedAt uint64 // 1 + the epoch we last proposed an Update in
}

type buffered struct {
	m  *Message
	at time.Time
}

// NewSession starts a session for room with an empty send group.
func NewSession(id *Identity, env Env, room string, cfg Config) (*Session, error) {
	gid := make([]byte, 16)
	if _, err := io.ReadFull(env.Rand, gid); err != nil {
		return nil, fmt.Errorf("dmls: randomness: %w", err)
	}
	secret, err := env.secret()
	if err != nil {
		return nil, err
	}
	g, err := mlsguard.CreateGroup(id.mls, gid, secret)
	if err != nil {
		return nil, fmt.Errorf("dmls: new session: %w", classify(err))
	}
	now := env.Now()
	return &Session{
		id: id, env: env, cfg: cfg.withDefaults(), room: RoomIDOf(room),
		send: g, kicked: map[Fingerprint]bool{}, recv: map[string]*recvGroup{},
		byOwner: map[Fingerprint]*recvGroup{}, asked: map[Fingerprint]time.Time{},
		refused: map[Fingerprint]time.Time{}, departed: map[Fingerprint]bool{},
		readmitted: map[Fingerprint]time.Time{},
		lastUpdate: now, lastDigest: now, forks: newForkWatch(),
	}, nil
}

// Room returns the room id.
func (s *Session) Room() RoomID { return s.room }

// Identity returns our identity.
func (s *Session) Identity() *Identity { return s.id }

// SendGroupID returns our send group's id.
func (s *Session) SendGroupID() []byte { return s.send.GroupID() }

// SendEpoch returns our send group's epoch.
func (s *Session) SendEpoch() uint64 { return s.send.Epoch() }

// MemberView is one peer as this session sees it. In DMLS membership is
// each participant's own view: we may reach a peer (it is in our send
// group), it may reach us (we are in its send group), or both.
type MemberView struct {
	ID         Fingerprint
	Nick       string
	WeReach    bool
	TheyReach  bool
	Kicked     bool
	TheirEpoch uint64
}

// Members lists every peer we reach or that reaches us, by nick then id.
func (s *Session) Members() []MemberView {
	views := map[Fingerprint]*MemberView{}
	get := func(fp Fingerprint, nick string) *MemberView {
		v := views[fp]
		if v == nil {
			v = &MemberView{ID: fp, Nick: nick, Kicked: s.kicked[fp]}
			views[fp] = v
		}
		return v
	}
	for _, m := range s.send.Members() {
		if m.Leaf != 0 {
			get(m.Fingerprint(), m.Nick).WeReach = true
		}
	}
	for fp, rg := range s.byOwner {
		v := get(fp, rg.ownerNick)
		v.TheyReach, v.TheirEpoch = true, rg.cur.Epoch()
	}
	out := make([]MemberView, 0, len(views))
	for _, v := range views {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Nick != out[j].Nick {
			return out[i].Nick < out[j].Nick
		}
		return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0
	})
	return out
}

// InSendGroup reports whether peer is in our send group.
func (s *Session) InSendGroup(peer Fingerprint) bool {
	_, ok := s.sendMember(peer)
	return ok
}

// HasGroupOf reports whether we joined peer's send group.
func (s *Session) HasGroupOf(peer Fingerprint) bool { return s.byOwner[peer] != nil }

func (s *Session) sendMember(peer Fingerprint) (mlsguard.Member, bool) {
	for _, m := range s.send.Members() {
		if m.Leaf != 0 && m.Fingerprint() == peer {
			return m, true
		}
	}
	return mlsguard.Member{}, false
}

func (s *Session) sendRecipients() []Fingerprint {
	var out []Fingerprint
	for _, m := range s.send.Members() {
		if m.Leaf != 0 {
			out = append(out, m.Fingerprint())
		}
	}
	return out
}

func (s *Session) msg(kind Kind, group []byte, epoch uint64, data []byte, props [][]byte) ([]byte, error) {
	m := &Message{Kind: kind, Room: s.room, Group: group, Epoch: epoch, Data: data, Proposals: props}
	return m.Marshal()
}

// ---- joining ----

// Hello returns what it takes to form a two-way link with peer in this
// room: our KeyPackage, flagged HelloAddMe when we hold no state for peer's
// send group and HelloSendYours when peer is not in ours. It returns an
// empty Output when the link is whole or an earlier request to peer is
// younger than GapTimeout, and refuses a kicked peer.
func (s *Session) Hello(peer Fingerprint) (Output, error) {
	if peer == s.id.Fingerprint() {
		return Output{}, fmt.Errorf("%w: hello to ourselves", ErrMalformed)
	}
	if s.kicked[peer] {
		return Output{}, fmt.Errorf("%w: %s", ErrKicked, ShortID(peer))
	}
	if s.refuses(peer) {
		return Output{}, fmt.Errorf("%w: %s is not part of this conversation", ErrNotMember, ShortID(peer))
	}
	flags := s.helloFlags(peer)
	if flags == 0 {
		return Output{}, nil
	}
	if at, ok := s.asked[peer]; ok && s.env.Now().Sub(at) < s.cfg.GapTimeout {
		return Output{}, nil
	}
	return s.keyPackageTo(peer, KindKeyPackage, flags)
}

func (s *Session) helloFlags(peer Fingerprint) uint64 {
	var flags uint64
	if !s.HasGroupOf(peer) {
		flags |= HelloAddMe
	}
	if !s.InSendGroup(peer) {
		flags |= HelloSendYours
	}
	return flags
}

func (s *Session) keyPackageTo(peer Fingerprint, kind Kind, flags uint64) (Output, error) {
	kp, err := s.id.NewKeyPackage(s.env)
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
	s.asked[peer] = s.env.Now()
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
		delete(s.refused, kp.Fingerprint())
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
		if !s.InSendGroup(fp) {
			fresh = append(fresh, kp)
		}
	}
	if len(fresh) == 0 {
		return Output{}, nil
	}
	if members+len(fresh) > MaxMembers {
		return Output{}, fmt.Errorf("%w: %d members (max %d)", ErrRoomFull, members+len(fresh), MaxMembers)
	}
	for _, kp := range fresh {
		if err := s.send.ProposeAdd(kp); err != nil {
			return Output{}, fmt.Errorf("dmls: add: %w", classify(err))
		}
	}
	return s.commit()
}

// Remove removes peer from our send group (a kick): it reads nothing we
// send from now on. We also stop reading its send group and ask it to drop
// us from it (KindLeave). It is not re-added unless [Session.Add] is called
// for it again.
func (s *Session) Remove(peer Fingerprint) (Output, error) {
	if !s.InSendGroup(peer) && !s.HasGroupOf(peer) {
		return Output{}, fmt.Errorf("%w: %s", ErrNotMember, ShortID(peer))
	}
	s.kicked[peer] = true
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
func (s *Session) MarkKicked(peer Fingerprint) { s.kicked[peer] = true }

// Kicked reports whether peer is kicked from this room.
func (s *Session) Kicked(peer Fingerprint) bool { return s.kicked[peer] }

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
	delete(s.asked, peer)
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
		delete(s.recv, string(rg.gid))
	}
}

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
	bundle, welcome, info, err := s.send.Commit(secret)
	if err != nil {
		return Output{}, fmt.Errorf("dmls: commit: %w", classify(err))
	}
	s.sinceUpdate, s.lastUpdate = 0, s.env.Now()
	var out Output
	me := s.id.Fingerprint()
	s.forks.observe(gid, info.FromEpoch, info.Hash, me, me, &out)
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
	for _, e := range membershipEvents(info, me) {
		out.event(e)
	}
	return out, nil
}

// membershipEvents turns a commit's changes into events; a member removed
// and re-added in one commit is a rejoin, not a removal.
func membershipEvents(info mlsguard.CommitInfo, by Fingerprint) []Event {
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
		out = append(out, Event{Type: typ, Peer: fp, Nick: m.Nick, By: by, Epoch: info.Epoch})
	}
	for _, m := range info.Added {
		if fp := m.Fingerprint(); !removed[fp] {
			out = append(out, Event{Type: EventMemberAdded, Peer: fp, Nick: m.Nick, By: by, Epoch: info.Epoch})
		}
	}
	return out
}

// ---- sending ----

// Update is the DMLS UPDATE: a path commit of our own leaf in our send
// group, and an Update proposal for our leaf in every receive group, sent to
// its owner (who commits it; we apply the cached secret when it does).
func (s *Session) Update() (Output, error) {
	out, err := s.commit()
	if err != nil {
		return out, err
	}
	for _, owner := range s.owners() {
		rg := s.byOwner[owner]
		if rg.proposedAt == rg.cur.Epoch()+1 {
			continue
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
	}
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

// Protect is the DMLS PROTECT of a text message. By the draft's policy it
// first commits any proposals we hold, and an UPDATE when one is due.
func (s *Session) Protect(text string) (Output, *Envelope, error) {
	id, err := s.newMessageID()
	if err != nil {
		return Output{}, nil, err
	}
	e := &Envelope{ID: id, SentAt: s.env.Now().UTC(), Kind: EnvelopeText, Body: []byte(text)}
	out, err := s.ProtectEnvelope(e)
	return out, e, err
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
// current epoch, addressed to every member of our send group.
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

// ---- receiving ----

// Handle processes one DMLS message that the transport authenticated as
// coming from peer `from`. Messages for a future epoch are buffered (nil
// error, nothing reported) until their commit arrives.
func (s *Session) Handle(from Fingerprint, data []byte) (Output, error) {
	m, err := UnmarshalMessage(data)
	if err != nil {
		return Output{}, err
	}
	if m.Room != s.room {
		return Output{}, ErrWrongRoom
	}
	if from == s.id.Fingerprint() {
		return Output{}, fmt.Errorf("%w: message from ourselves", ErrMalformed)
	}
	if s.kicked[from] {
		// Tell the peer we are not in its room any more, so it stops
		// counting us as a member (at most once per GapTimeout).
		var out Output
		if at, ok := s.refused[from]; m.Kind != KindLeave && (!ok || s.env.Now().Sub(at) >= s.cfg.GapTimeout) {
			s.refused[from] = s.env.Now()
			out, _ = s.leaveMsg(from)
		}
		return out, fmt.Errorf("%w: %s", ErrKicked, ShortID(from))
	}
	if s.refuses(from) {
		return Output{}, fmt.Errorf("%w: %s is not part of this conversation", ErrNotMember, ShortID(from))
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
	flags := m.Epoch
	lostState := m.Kind == KindRejoin || flags&HelloAddMe != 0 && flags&HelloReply == 0
	member := s.InSendGroup(from)
	if member && lostState {
		if at, ok := s.readmitted[from]; ok && s.env.Now().Sub(at) < s.cfg.GapTimeout/6 {
			return Output{}, fmt.Errorf("%w: %s asked to be re-added again within %v", ErrRateLimited, ShortID(from), s.cfg.GapTimeout/6)
		}
		s.readmitted[from] = s.env.Now()
	}
	var out Output
	if !member || lostState {
		c, err := s.admit(from, kp)
		out.add(c)
		if err != nil {
			return out, err
		}
	}
	if m.Kind == KindKeyPackage && flags&HelloSendYours != 0 {
		o, err := s.keyPackageTo(from, KindKeyPackage, s.helloFlags(from)|HelloReply)
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
		return Output{}, fmt.Errorf("%w: %s", ErrNotMember, ShortID(from))
	}
	s.departed[from] = true
	return s.unlink(from, false)
}

func (s *Session) handleWelcome(from Fingerprint, m *Message) (Output, error) {
	hashes, err := mlsguard.WelcomeTarget(m.Data)
	if err != nil {
		return Output{}, classify(err)
	}
	entry := s.id.keys.take(hashes, s.env.Now())
	if entry == nil {
		// Made for a KeyPackage we no longer hold (we restarted since, or
		// it expired): the owner counts us in, so ask it to re-add us.
		out, _ := s.requestRejoin(from)
		return out, fmt.Errorf("%w: from %s", ErrStaleWelcome, ShortID(from))
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
	if old := s.byOwner[from]; old != nil {
		delete(s.recv, string(old.gid))
	}
	if other := s.recv[string(m.Group)]; other != nil && other.owner != from {
		return Output{}, fmt.Errorf("%w: group id already used by %s", ErrForged, ShortID(other.owner))
	}
	rg := &recvGroup{owner: from, ownerNick: owner.Nick, gid: g.GroupID(), cur: g}
	s.recv[string(rg.gid)] = rg
	s.byOwner[from] = rg
	delete(s.asked, from)
	delete(s.departed, from)
	var out Output
	out.event(Event{Type: EventJoined, Peer: from, Nick: owner.Nick, By: from, Epoch: g.Epoch()})
	if !s.InSendGroup(from) && !s.kicked[from] {
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
	rg := s.recv[string(m.Group)]
	if rg == nil {
		// The owner still counts us as a member, but we hold no state for
		// its group: ask to be re-added.
		out, _ := s.requestRejoin(from)
		return out, fmt.Errorf("%w: %x from %s", ErrUnknownGroup, m.Group, ShortID(from))
	}
	if rg.owner != from {
		return Output{}, fmt.Errorf("%w: group of %s, sent by %s", ErrNotOwner, ShortID(rg.owner), ShortID(from))
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

func (s *Session) buffer(rg *recvGroup, m *Message) error {
	if m.Epoch-rg.cur.Epoch() > s.cfg.MaxEpochAhead {
		return fmt.Errorf("%w: epoch %d, group at %d", ErrEpochAhead, m.Epoch, rg.cur.Epoch())
	}
	if len(rg.buffered) >= s.cfg.MaxBuffered {
		return fmt.Errorf("%w: buffer of %d full", ErrEpochAhead, s.cfg.MaxBuffered)
	}
	rg.buffered = append(rg.buffered, buffered{m: m, at: s.env.Now()})
	return nil
}

// Buffered reports how many messages wait for a commit in all groups.
func (s *Session) Buffered() int {
	n := 0
	for _, rg := range s.recv {
		n += len(rg.buffered)
	}
	return n
}

func (s *Session) applyCommit(rg *recvGroup, m *Message) (Output, error) {
	if m.Epoch < rg.cur.Epoch() {
		h := mlsguard.CommitBundle{Commit: m.Data}.Hash()
		if rg.hasCommit && m.Epoch == rg.lastEpoch && h == rg.lastHash {
			return Output{}, fmt.Errorf("%w: commit for epoch %d", ErrDuplicate, m.Epoch)
		}
		var out Output
		s.forks.observe(rg.gid, m.Epoch, h, s.id.Fingerprint(), rg.owner, &out)
		return out, fmt.Errorf("%w: commit for epoch %d, group at %d", ErrEpochOld, m.Epoch, rg.cur.Epoch())
	}
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
	s.digestDirty = true
	s.forks.observe(rg.gid, info.FromEpoch, info.Hash, s.id.Fingerprint(), rg.owner, &out)
	out.event(Event{Type: EventUpdated, By: rg.owner, Nick: rg.ownerNick, Epoch: info.Epoch})
	out.Events = append(out.Events, membershipEvents(info, rg.owner)...)
	if m.Flags&FlagDeparture == 0 {
		prop, err := s.propagateRemovals(info)
		out.add(prop)
		if err != nil {
			return out, err
		}
	}
	out.add(s.drain(rg))
	return out, nil
}

// propagateRemovals applies the draft's rule: when an owner removes X from
// its send group, we remove X from ours too (and do not re-add it on our
// own), because X can no longer follow the commits that will follow.
func (s *Session) propagateRemovals(info mlsguard.CommitInfo) (Output, error) {
	readded := map[Fingerprint]bool{}
	for _, m := range info.Added {
		readded[m.Fingerprint()] = true
	}
	var out, leaves Output
	proposed := false
	for _, x := range info.Removed {
		fp := x.Fingerprint()
		if readded[fp] || fp == s.id.Fingerprint() || s.kicked[fp] {
			continue
		}
		s.kicked[fp] = true
		delete(s.asked, fp)
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
			o, _ := s.handleGroupMessage(rg.owner, b.m)
			out.add(o)
			progress = true
			break
		}
		if s.recv[string(rg.gid)] != rg {
			break // removed meanwhile
		}
	}
	return out
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
	if !e.AddressedTo(s.id.Fingerprint()) {
		return Output{}, fmt.Errorf("%w: %v", ErrNotForUs, e.ID)
	}
	var out Output
	switch e.Kind {
	case EnvelopeText:
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
	if at, ok := s.asked[owner]; ok && s.env.Now().Sub(at) < s.cfg.GapTimeout {
		return Output{}, nil
	}
	out, err := s.keyPackageTo(owner, KindRejoin, HelloAddMe)
	if err != nil {
		return out, err
	}
	out.event(Event{Type: EventNeedRejoin, By: owner})
	return out, nil
}

// ---- time ----

// Tick runs the time-driven policy: expire kept epochs, detect gaps, commit
// held proposals, UPDATE when due and gossip commit digests.
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
			rg.buffered = nil
			o, err := s.requestRejoin(owner)
			out.add(o)
			if err != nil {
				return out, err
			}
		}
	}
	if now.Sub(s.lastUpdate) >= s.cfg.UpdateInterval {
		o, err := s.Update()
		out.add(o)
		if err != nil {
			return out, err
		}
	} else if s.send.PendingProposals() > 0 {
		o, err := s.commit()
		out.add(o)
		if err != nil {
			return out, err
		}
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
