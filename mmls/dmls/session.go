package dmls

import (
	"bytes"
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
	// UpdateInterval: ...or every UpdateInterval (default 10 minutes). Our
	// leaf in each receive group has its own schedule: an Update proposal
	// once it has not rotated for UpdateInterval, however often we commit.
	UpdateInterval time.Duration
	// StaleAfter: a member whose leaf in our send group has not been
	// refreshed (added, or an Update of theirs committed) for this long is
	// flagged stale (default 7 days; the draft's members who never update).
	StaleAfter time.Duration
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
	// (default 256 messages)...
	MaxBuffered int
	// MaxBufferedBytes: ...and its size (default 2 MiB, the messages'
	// encoded bytes): what one peer can make us hold per room.
	MaxBufferedBytes int
	// MaxEpochAhead bounds how far ahead a buffered message may be
	// (default 16 epochs).
	MaxEpochAhead uint64
	// RoomSize caps our send group below MaxMembers (default MaxMembers).
	RoomSize int
	// HoldAdds: a newcomer's Add is proposed and held, to go with others
	// in one commit at CommitHeld (or any earlier commit), instead of
	// one commit per newcomer: forming a room of N costs each member N
	// commits to apply per owner, not N².
	HoldAdds bool
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
	def(&c.StaleAfter, 7*24*time.Hour)
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = 256
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = 2 << 20
	}
	if c.MaxEpochAhead == 0 {
		c.MaxEpochAhead = 16
	}
	if c.RoomSize <= 0 || c.RoomSize > MaxMembers {
		c.RoomSize = MaxMembers
	}
	return c
}

// MaxMembers caps a room (our send group) well below go-mls's 128-leaf
// limit; blank leaves left by removals also count against
// mlsguard.MaxLeaves.
const MaxMembers = 100

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

	send *mlsguard.Group
	// kicked: peers removed from the room, each with who caused it (us,
	// or the owner whose removal we followed).
	kicked map[Fingerprint]Fingerprint
	// follow, when set, decides whose removals we follow (the draft's
	// rule follows every owner's).
	follow func(remover Fingerprint) bool
	// readmitters, when set, also lift removals we followed.
	readmitters func(owner Fingerprint) bool
	// prefer, when set, says whom a full room makes room for (RoomFull).
	prefer  func(peer Fingerprint) bool
	byOwner map[Fingerprint]*recvGroup
	// limits: how often each peer had our KeyPackages and answers
	// (links.go).
	limits peerLimits
	// departed: peers that asked us to leave their group; we do not ask
	// them to re-add us on our own.
	departed map[Fingerprint]bool

	// allowed, when set, is the only set of peers this session links with
	// (a direct two-person room).
	allowed map[Fingerprint]bool
	// deferred: a member's latest KeyPackage that asked to be re-added too
	// soon after the last time; Tick re-admits it when the pause is over.
	deferred map[Fingerprint]*mlsguard.KeyPackage
	// held: newcomers whose Adds are proposed, not yet committed
	// (HoldAdds).
	held map[Fingerprint]bool

	// priv: a private room's admission (private.go).
	priv privacy

	// refreshed: when each member's leaf in our send group was last
	// refreshed (added, or its Update committed).
	refreshed map[Fingerprint]time.Time

	sinceUpdate int
	lastUpdate  time.Time
	lastDigest  time.Time
	digestDirty bool
	forks       *forkWatch
	// kept: recent commits we applied or made, with their epochs'
	// witnesses, to judge reported forks (evidence.go).
	kept          map[forkKey]keptCommit
	keptOrder     []forkKey
	evidenceAsked map[string]bool
}

type recvGroup struct {
	owner      Fingerprint
	ownerNick  string
	gid        []byte
	cur, prev  *mlsguard.Group
	prevUntil  time.Time
	buffered   []buffered
	bufBytes   int    // the buffered messages' size
	lastEpoch  uint64 // epoch our latest applied commit started from
	lastHash   [32]byte
	hasCommit  bool
	proposedAt uint64 // 1 + the epoch we last proposed an Update in
	// rotated: when our leaf in this group last rotated (the Welcome, or
	// the commit of our Update).
	rotated time.Time
}

type buffered struct {
	m    *Message
	at   time.Time
	size int
}

// size is a message's encoded payload bytes, what buffering it holds.
func (m *Message) size() int {
	n := len(m.Data) + len(m.Group)
	for _, p := range m.Proposals {
		n += len(p)
	}
	return n
}

// NewSession starts a session for room with an empty send group.
func NewSession(id *Identity, env Env, room RoomID, cfg Config) (*Session, error) {
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
		id: id, env: env, cfg: cfg.withDefaults(), room: room,
		send: g, kicked: map[Fingerprint]Fingerprint{}, byOwner: map[Fingerprint]*recvGroup{}, departed: map[Fingerprint]bool{},
		limits: peerLimits{asked: map[Fingerprint]time.Time{}, refused: map[Fingerprint]time.Time{}, readmitted: map[Fingerprint]time.Time{},
			answered: map[Fingerprint][]time.Time{}, owed: map[Fingerprint]bool{}},
		deferred: map[Fingerprint]*mlsguard.KeyPackage{}, held: map[Fingerprint]bool{},
		priv:       privacy{vouches: map[Fingerprint]bool{}, waiting: map[Fingerprint]*Message{}},
		refreshed:  map[Fingerprint]time.Time{},
		lastUpdate: now, lastDigest: now, forks: newForkWatch(),
		kept: map[forkKey]keptCommit{}, evidenceAsked: map[string]bool{},
	}, nil
}

// Room returns the room id.
func (s *Session) Room() RoomID { return s.room }

// Identity returns our identity.
func (s *Session) Identity() *Identity { return s.id }

// SendGroupID returns our send group's id.
func (s *Session) SendGroupID() []byte { return s.send.GroupID() }

// Rekeyed returns when we last committed in our send group (every commit
// rotates our leaf there).
func (s *Session) Rekeyed() time.Time { return s.lastUpdate }

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
	// Refreshed: when their leaf in our send group was last refreshed;
	// Stale: longer ago than Config.StaleAfter (WeReach only).
	Refreshed time.Time
	Stale     bool
	// Rotated: when our leaf in their group last rotated (TheyReach only).
	Rotated time.Time
}

// Members lists every peer we reach or that reaches us, by nick then id.
func (s *Session) Members() []MemberView {
	views := map[Fingerprint]*MemberView{}
	get := func(fp Fingerprint, nick string) *MemberView {
		v := views[fp]
		if v == nil {
			v = &MemberView{ID: fp, Nick: nick, Kicked: s.Kicked(fp)}
			views[fp] = v
		}
		return v
	}
	for _, m := range s.send.Members() {
		if m.Leaf != 0 {
			v := get(m.Fingerprint(), m.Nick)
			v.WeReach, v.Refreshed = true, s.refreshed[v.ID]
			v.Stale = s.env.Now().Sub(v.Refreshed) >= s.cfg.StaleAfter
		}
	}
	for fp, rg := range s.byOwner {
		v := get(fp, rg.ownerNick)
		v.TheyReach, v.TheirEpoch, v.Rotated = true, rg.cur.Epoch(), rg.rotated
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

// Recipients lists the members of our send group.
func (s *Session) Recipients() []Fingerprint { return s.sendRecipients() }

// InSendGroup reports whether peer is in our send group.
func (s *Session) InSendGroup(peer Fingerprint) bool {
	_, ok := s.sendMember(peer)
	return ok
}

// ownerOf finds the owner of a receive group by its id.
func (s *Session) ownerOf(gid []byte) (Fingerprint, bool) {
	for fp, rg := range s.byOwner {
		if bytes.Equal(rg.gid, gid) {
			return fp, true
		}
	}
	return Fingerprint{}, false
}

// HasGroupOf reports whether we joined peer's send group.
func (s *Session) HasGroupOf(peer Fingerprint) bool { return s.byOwner[peer] != nil }

func (s *Session) sendMember(peer Fingerprint) (mlsguard.Member, bool) {
	m, ok := s.send.Member(peer)
	if !ok || m.Leaf == 0 {
		return mlsguard.Member{}, false
	}
	return m, true
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

// first commits any proposals we hold, and an UPDATE when one is due.
