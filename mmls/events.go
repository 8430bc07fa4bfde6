package mmls

import "time"

// Event is what the engine reports. Its JSON form is the headless mode's
// output contract (see the README): type and time always, the other fields
// when they apply.
type Event struct {
	Type   string     `json:"type"`
	Time   time.Time  `json:"time"`
	ID     string     `json:"id,omitempty"`
	Nick   string     `json:"nick,omitempty"`
	Listen string     `json:"listen,omitempty"`
	Addr   string     `json:"addr,omitempty"`
	Status string     `json:"status,omitempty"`
	Room   string     `json:"room,omitempty"`
	Change string     `json:"change,omitempty"`
	By     string     `json:"by,omitempty"`
	ByID   string     `json:"by_id,omitempty"`
	From   string     `json:"from,omitempty"`
	FromID string     `json:"from_id,omitempty"`
	Text   string     `json:"text,omitempty"`
	SentAt *time.Time `json:"sent_at,omitempty"`
	ToID   string     `json:"to_id,omitempty"`
	// Recipients is how many members a sent message is addressed to.
	Recipients int    `json:"recipients,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Detail     string `json:"detail,omitempty"`
	Error      string `json:"error,omitempty"`

	Peers        []PeerView   `json:"peers,omitempty"`
	Rooms        []RoomView   `json:"rooms,omitempty"`
	Members      []MemberView `json:"members,omitempty"`
	Info         *Info        `json:"info,omitempty"`
	SafetyNumber string       `json:"safety_number,omitempty"`
	Verified     bool         `json:"verified,omitempty"`
	Commands     []string     `json:"commands,omitempty"`
	History      []Line       `json:"history,omitempty"`
}

// Line is one stored message, in a history event.
type Line struct {
	ID     string    `json:"id"`
	From   string    `json:"from"`
	FromID string    `json:"from_id"`
	Text   string    `json:"text"`
	SentAt time.Time `json:"sent_at"`
	Mine   bool      `json:"mine,omitempty"`
}

// PeerView is one peer in a /peers answer.
type PeerView struct {
	ID     string `json:"id"`
	Nick   string `json:"nick"`
	Addr   string `json:"addr,omitempty"`
	Online bool   `json:"online"`
	Queued int    `json:"queued,omitempty"`
}

// RoomView is one room in a /rooms answer.
type RoomView struct {
	Name    string `json:"name"`
	Current bool   `json:"current,omitempty"`
	Members int    `json:"members"`
}

// MemberView is one member in a /who answer. Membership is each
// participant's own view: we reach them (they are in our send group), they
// reach us (we are in theirs), or both.
type MemberView struct {
	ID        string `json:"id"`
	Nick      string `json:"nick"`
	WeReach   bool   `json:"we_reach"`
	TheyReach bool   `json:"they_reach"`
	Online    bool   `json:"online"`
	Verified  bool   `json:"verified,omitempty"`
}

// Info answers /info.
type Info struct {
	ID      string `json:"id"`
	Nick    string `json:"nick"`
	Listen  string `json:"listen"`
	MDNS    string `json:"mdns"`
	Data    string `json:"data"`
	Room    string `json:"room"`
	Rooms   int    `json:"rooms"`
	Online  int    `json:"online"`
	Version string `json:"version,omitempty"`
}
