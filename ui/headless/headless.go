// Package headless drives the engine from lines of text and reports its
// events as JSON, one object per line: the contract scripts, bots and the
// end-to-end tests use (documented in the README).
//
// Output rule: stdout carries JSON events and nothing else; diagnostics go
// to the log file that main sets up.
package headless

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Engine is what the headless mode needs of the engine.
type Engine interface {
	Input(line string) bool
	Events() <-chan mmls.Event
}

// MaxLine bounds one input line. Longer messages than the protocol allows
// (64 KiB of text) still reach the engine, which answers with an error
// event; a line over MaxLine ends the input.
const MaxLine = 1 << 20

// Run copies input lines to the engine and its events to out until the
// engine stops. End of input is a /quit. It returns the first write error.
func Run(eng Engine, in io.Reader, out io.Writer) error {
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), MaxLine)
		for sc.Scan() {
			if sc.Text() == "" {
				continue
			}
			if !eng.Input(sc.Text()) {
				return
			}
		}
		eng.Input("/quit")
	}()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var werr error
	for ev := range eng.Events() {
		if werr != nil {
			continue // keep draining so the engine can stop
		}
		if err := enc.Encode(ev); err != nil {
			werr = fmt.Errorf("headless: write: %w", err)
		}
	}
	return werr
}
