// Package walkthrough runs a DMLS room of three participants in one
// process, over real go-mls, and narrates what happens: the room forming
// (every participant's send group), messages, a member UPDATE committed by
// its owner, a lost state and its REJOIN, and a kick with its removal
// propagation. It is what the binary shows until the network lands.
package walkthrough

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
)

type node struct {
	id   *dmls.Identity
	s    *dmls.Session
	seen map[dmls.MessageID]bool
}

// room is three participants and the in-process router between them,
// which delivers messages in the order they were sent.
type room struct {
	w     io.Writer
	env   dmls.Env
	nodes map[dmls.Fingerprint]*node
	net   *dmls.Router
}

// Run narrates the walkthrough to w.
func Run(w io.Writer) error {
	r := &room{w: w, env: dmls.Env{Rand: rand.Reader, Now: time.Now}, nodes: map[dmls.Fingerprint]*node{}, net: dmls.NewRouter()}
	r.net.OnOutput = r.report
	var people []*node
	for _, nick := range []string{"alice", "bob", "carol"} {
		n, err := r.join(nick)
		if err != nil {
			return err
		}
		people = append(people, n)
	}
	alice, bob, carol := people[0], people[1], people[2]
	steps := []struct {
		title string
		do    func() error
	}{
		{"alice, bob and carol say hello: each sends the others a KeyPackage", func() error {
			for _, a := range people {
				for _, b := range people {
					if a != b {
						if err := r.on(a)(a.s.Hello(b.id.Fingerprint())); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}},
		{"everyone writes (PROTECT in their own send group)", func() error {
			for _, p := range people {
				out, _, err := p.s.Protect("hello from " + p.id.Nick())
				if err := r.run(p, out, err); err != nil {
					return err
				}
			}
			return nil
		}},
		{"bob runs UPDATE: a path commit in his group, Update proposals to alice and carol", func() error {
			return r.on(bob)(bob.s.Update())
		}},
		{"alice writes again: she first commits bob's proposal (post-compromise security for bob)", func() error {
			out, _, err := alice.s.Protect("bob's new leaf is in my group now")
			return r.run(alice, out, err)
		}},
		{"carol loses her state (a restart) and says hello again: owners REJOIN her", func() error {
			fresh, err := dmls.IdentityFromSeed(carol.id.Seed(), "carol")
			if err != nil {
				return err
			}
			if carol.s, err = dmls.NewSession(fresh, r.env, dmls.RoomIDOf("lobby"), dmls.Config{}); err != nil {
				return err
			}
			carol.id = fresh
			r.net.Attach(carol.s)
			for _, p := range []*node{alice, bob} {
				if err := r.on(carol)(carol.s.Hello(p.id.Fingerprint())); err != nil {
					return err
				}
			}
			out, _, err := carol.s.Protect("back, with fresh keys everywhere")
			return r.run(carol, out, err)
		}},
		{"alice kicks carol: bob sees the removal and removes carol from his group too", func() error {
			return r.on(alice)(alice.s.Remove(carol.id.Fingerprint()))
		}},
		{"bob writes: only alice can read it", func() error {
			out, _, err := bob.s.Protect("just the two of us")
			return r.run(bob, out, err)
		}},
	}
	fmt.Fprintln(w, "mmls-chat protocol walkthrough: three participants, one process, real MLS (go-mls, X25519/AES-128-GCM/Ed25519).")
	fmt.Fprintln(w, "Every participant owns a send group (leaf 0) and joins the others'. No network yet: messages are routed in memory.")
	for i, st := range steps {
		fmt.Fprintf(w, "\n%d. %s\n", i+1, st.title)
		if err := st.do(); err != nil {
			return fmt.Errorf("walkthrough: step %d: %w", i+1, err)
		}
	}
	fmt.Fprintln(w, "\nWho reaches whom (membership is each participant's own view):")
	for _, p := range people {
		var parts []string
		for _, m := range p.s.Members() {
			parts = append(parts, fmt.Sprintf("%s[%s]", m.Nick, arrow(m)))
		}
		if len(parts) == 0 {
			parts = []string{"nobody"}
		}
		fmt.Fprintf(w, "  %-6s %s\n", p.id.Nick(), strings.Join(parts, " "))
	}
	fmt.Fprintf(w, "\n%d bytes of DMLS messages were exchanged.\n", r.net.Bytes)
	return nil
}

func arrow(m dmls.MemberView) string {
	switch {
	case m.WeReach && m.TheyReach:
		return "both ways"
	case m.WeReach:
		return "I reach them"
	case m.TheyReach:
		return "they reach me"
	}
	return "none"
}

func (r *room) join(nick string) (*node, error) {
	id, err := dmls.NewIdentity(r.env, nick)
	if err != nil {
		return nil, err
	}
	s, err := dmls.NewSession(id, r.env, dmls.RoomIDOf("lobby"), dmls.Config{})
	if err != nil {
		return nil, err
	}
	n := &node{id: id, s: s, seen: map[dmls.MessageID]bool{}}
	r.nodes[id.Fingerprint()] = n
	r.net.Attach(s)
	return n, nil
}

// on returns run bound to from, to take a session call's two results.
func (r *room) on(from *node) func(dmls.Output, error) error {
	return func(out dmls.Output, err error) error { return r.run(from, out, err) }
}

// run queues what a call produced and delivers until the room is quiet.
func (r *room) run(from *node, out dmls.Output, err error) error {
	if err != nil {
		return err
	}
	r.net.Apply(from.id.Fingerprint(), out, nil)
	for r.net.DeliverOldest() {
	}
	return nil
}

func (r *room) nick(fp dmls.Fingerprint) string {
	if n := r.nodes[fp]; n != nil {
		return n.id.Nick()
	}
	return fp.Short()
}

// report narrates what a participant's session reported (the router's
// OnOutput).
func (r *room) report(fp dmls.Fingerprint, out dmls.Output, err error) {
	at := r.nodes[fp]
	me := at.id.Nick()
	if err != nil && !errors.Is(err, dmls.ErrKicked) && !errors.Is(err, dmls.ErrNotMember) {
		// Messages from a kicked peer, or about a link already gone,
		// are expected after a kick; anything else is worth showing.
		fmt.Fprintf(r.w, "     %s refused a message: %v\n", me, err)
	}
	for _, e := range out.Events {
		switch e.Type {
		case dmls.EventMessage:
			if !at.seen[e.Envelope.ID] {
				at.seen[e.Envelope.ID] = true
				fmt.Fprintf(r.w, "     %-6s reads  <%s> %s\n", me, e.Nick, e.Envelope.Body)
			}
		case dmls.EventJoined:
			fmt.Fprintf(r.w, "     %-6s joined %s's send group (epoch %d)\n", me, e.Nick, e.Epoch)
		case dmls.EventMemberAdded, dmls.EventMemberRemoved, dmls.EventRejoined:
			if e.By == at.id.Fingerprint() {
				fmt.Fprintf(r.w, "     %-6s %s %s in its own send group\n", me, verb(e.Type), e.Nick)
			}
		case dmls.EventRemoved:
			fmt.Fprintf(r.w, "     %-6s was removed from %s's send group\n", me, r.nick(e.By))
		case dmls.EventEquivocation:
			fmt.Fprintf(r.w, "     %-6s ALERT: %s\n", me, e.Detail)
		}
	}
}

func verb(t dmls.EventType) string {
	switch t {
	case dmls.EventMemberAdded:
		return "added"
	case dmls.EventMemberRemoved:
		return "removed"
	}
	return "re-added (rejoin)"
}
