package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules holds the architecture docs/architecture.md draws to the code
// (go list): every arrow points down, the protocol layer is pure, one
// package imports go-mls, and mmls/node is the one place the engine and
// the network meet.
func TestImportRules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/mmls-chat/mmls-chat"
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		for _, d := range strings.Fields(deps) {
			if strings.HasPrefix(d, mod) {
				d = strings.TrimPrefix(strings.TrimPrefix(d, mod), "/")
			}
			imports[pkg] = append(imports[pkg], d)
		}
	}
	if len(imports) < 10 {
		t.Fatalf("go list found %d packages", len(imports))
	}
	rules := []struct {
		pkgs   []string // the packages the rule is about ("" is main)
		banned []string // imports they must not have (prefixes)
		why    string
	}{
		{[]string{"ui", "ui/headless"}, []string{"mmls/", "transport", "discovery", "github.com/cisco"},
			"the interfaces see the engine's commands and events, never protocol state or sockets"},
		{[]string{"mmls"}, []string{"transport", "discovery", "mmls/node", "github.com/cisco", "net/http"},
			"the engine declares the network it needs; it does not import one"},
		{[]string{"mmls/dmls"}, []string{"github.com/cisco", "mmls/store", "net", "os", "transport", "discovery"},
			"the protocol is pure and reaches go-mls only through mlsguard"},
		{[]string{"mmls/store", "mmls/files"}, []string{"mmls/mlsguard", "github.com/cisco", "transport", "discovery"},
			"storage and files know nothing of MLS or the network"},
		{[]string{"transport", "discovery"}, []string{"mmls"},
			"the network knows nothing of MLS"},
		{[]string{"mmls/mlsguard"}, []string{"mmls/"},
			"the go-mls boundary depends on nothing of ours"},
		{[]string{"transport/peerid"}, []string{"mmls", "transport", "discovery", "ui", "github.com/"},
			"the participant id is a leaf: every layer shares it"},
		{[]string{"mmls/frame"}, []string{"mmls", "transport", "discovery", "ui", "github.com/"},
			"the table of frame kinds is a leaf: the engine and the file manager share it"},
	}
	// The one import every rule allows: the id every layer shares.
	const leaf = "transport/peerid"
	for _, rule := range rules {
		for _, pkg := range rule.pkgs {
			for _, d := range imports[pkg] {
				if d == leaf {
					continue
				}
				for _, b := range rule.banned {
					// "x/" bans x's subpackages; "x" bans x and them.
					sub := strings.HasSuffix(b, "/") && strings.HasPrefix(d, b)
					if sub || !strings.HasSuffix(b, "/") && (d == b || strings.HasPrefix(d, b+"/")) {
						t.Errorf("%s imports %s: %s", pkg, d, rule.why)
					}
				}
			}
		}
	}
	// Only mlsguard imports go-mls; only mmls/node imports both the
	// engine and the network.
	for pkg, deps := range imports {
		hasMLS, hasEngine, hasNet := false, false, false
		for _, d := range deps {
			hasMLS = hasMLS || strings.HasPrefix(d, "github.com/cisco/go-mls")
			hasEngine = hasEngine || d == "mmls"
			hasNet = hasNet || d == "transport"
		}
		if hasMLS && pkg != "mmls/mlsguard" {
			t.Errorf("%s imports go-mls: only mmls/mlsguard may", pkg)
		}
		if hasEngine && hasNet && pkg != "mmls/node" {
			t.Errorf("%s imports both the engine and the transport: only mmls/node may", pkg)
		}
	}
}

// TestNoFaultSwitchShipped: fault injection (serving damaged chunks) is
// compiled only with -tags mmlsfaults; the shipped build has no file that
// reads its switch.
func TestNoFaultSwitchShipped(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .GoFiles " "}}`, "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "faults.go") {
		t.Fatalf("a fault switch in the shipped build:\n%s", out)
	}
	out, err = exec.Command("go", "list", "-tags", "mmlsfaults", "-f", `{{join .GoFiles " "}}`, "./mmls/files").Output()
	if err != nil || !strings.Contains(string(out), "faults.go") {
		t.Fatalf("-tags mmlsfaults builds no fault switch: %v %s", err, out)
	}
}
