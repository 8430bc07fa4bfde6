package node

import (
	"github.com/mmls-chat/mmls-chat/discovery"
	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/transport"
)

// network is the TCP transport in the engine's terms. Its events come
// through pump, which Run owns.
type network struct {
	tr     *transport.Transport
	events chan mmls.NetEvent
}

func (n *network) Send(to mmls.ID, payload []byte) error {
	_, err := n.tr.SendOwned(to, payload)
	return err
}

func (n *network) Ack(from mmls.ID, seq uint64) { n.tr.Ack(from, seq) }
func (n *network) Connect(addr string, id mmls.ID) error {
	if id == (mmls.ID{}) {
		return n.tr.Connect(addr)
	}
	return n.tr.ConnectPinned(addr, id)
}
func (n *network) Reach(addr string, id mmls.ID) error {
	return n.tr.Sighted(addr, id)
}
func (n *network) Events() <-chan mmls.NetEvent { return n.events }
func (n *network) Befriend(id mmls.ID)          { n.tr.Befriend(id) }
func (n *network) SetNick(nick string)          { n.tr.SetNick(nick) }

func (n *network) Peers() []mmls.NetPeer {
	var out []mmls.NetPeer
	for _, p := range n.tr.Peers() {
		out = append(out, mmls.NetPeer{ID: p.ID, Nick: p.Nick, Addr: p.Addr, Online: p.Online, Queued: p.Queued, QueuedBytes: p.QueuedBytes})
	}
	return out
}

var netKinds = map[transport.EventType]mmls.NetEventKind{
	transport.PeerUp:      mmls.PeerUp,
	transport.PeerDown:    mmls.PeerDown,
	transport.Message:     mmls.Frame,
	transport.Unreachable: mmls.DialFailed,
}

// pump carries the transport's events to the engine until the
// transport closes its channel; once stop closes it only drains them
// (frames not handed over are not acknowledged, so they come again).
func (n *network) pump(stop <-chan struct{}) {
	defer close(n.events)
	for ev := range n.tr.Events() {
		kind, ok := netKinds[ev.Type]
		if !ok {
			continue
		}
		select {
		case n.events <- mmls.NetEvent{Kind: kind, Peer: ev.Peer, Nick: ev.Nick, Addr: ev.Addr, Seq: ev.Seq, Payload: ev.Payload, Reason: ev.Reason}:
		case <-stop:
		}
	}
}

// sightings is mDNS discovery in the engine's terms.
type sightings struct {
	d  *discovery.Discovery
	ch chan mmls.Sighting
}

func (s *sightings) Sightings() <-chan mmls.Sighting { return s.ch }

// pump carries peers found by mDNS to the engine, like network.pump.
func (s *sightings) pump(stop <-chan struct{}) {
	defer close(s.ch)
	for ev := range s.d.Events() {
		if ev.Type != discovery.Found {
			continue
		}
		select {
		case s.ch <- mmls.Sighting{ID: ev.Peer.ID, Addrs: ev.Peer.Addrs}:
		case <-stop:
		}
	}
}
