// Command mmls-chat is an end-to-end encrypted group chat for the terminal
// that needs no server. Today it runs the protocol walkthrough: the
// networked chat arrives with the transport, engine and interface.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mmls-chat/mmls-chat/mmls/walkthrough"
)

var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mmls-chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mmls-chat [--version]")
		fmt.Fprintln(stderr, "\nRuns a walkthrough of the MMLS protocol: three participants in one process over real MLS.")
		fmt.Fprintln(stderr, "The networked chat (LAN discovery, TCP transport, terminal UI) is not built yet.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mmls-chat: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "mmls-chat", version)
		return 0
	}
	if err := walkthrough.Run(stdout); err != nil {
		fmt.Fprintln(stderr, "mmls-chat:", err)
		return 1
	}
	return 0
}
