package transport

import (
	"net"
	"strings"
	"testing"
)

// TestCloseWaitsForAcceptedConnections: the goroutine Serve starts for a
// connection it admitted is counted when the connection is admitted,
// under the lock Close takes before it waits, so Close waits for it.
// Serve counted it after admitting the connection, outside that lock: a
// Close in between returned without waiting for it, and -race reported
// the WaitGroup's misuse (in TestFriendConnectsDuringSilentFlood, whose
// flood keeps Serve accepting while the test ends: 1 of 60 runs under
// CPU hogs). Here the connection's goroutine runs on the test's.
func TestCloseWaitsForAcceptedConnections(t *testing.T) {
	t.Parallel()
	// Were the connection not counted, Close would not wait for it, and
	// the later of its end and the end of the transport's own goroutine
	// would take the count below zero: a panic, maybe after its round
	// (the rounds bring it within the test).
	for range 20 {
		cfg := testConfig("server")
		ended := make(chan struct{}) // the connection's goroutine logs its end, then ends
		cfg.Logf = func(format string, args ...any) {
			if strings.HasPrefix(format, "transport: handshake with") {
				close(ended)
			}
		}
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		local, remote := net.Pipe()
		c := tr.newConn(local, false) // as Serve does with what it accepted
		if c == nil {
			t.Fatal("the connection was refused")
		}
		closed := make(chan struct{})
		go func() {
			tr.Close()
			select {
			case <-ended:
			default:
				t.Error("Close returned before the connection's goroutine ended")
			}
			close(closed)
		}()
		tr.run(c, nil) // its handshake fails once Close closes the connection
		<-closed
		remote.Close()
	}
}
