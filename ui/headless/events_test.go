package headless

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// notCarried are the engine's events the headless contract leaves out on
// purpose, each with why. A new event type must be mapped in recordOf or
// listed here: TestEveryEventMappedOrListed fails otherwise.
var notCarried = map[string]string{
	"DirectRoom": "the answer to /msg and /query: the joined and sent records that follow name the direct room",
}

// eventTypes are the types of package mmls that embed At (every Event
// does).
func eventTypes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "..", "mmls", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fl := range st.Fields.List {
				if id, ok := fl.Type.(*ast.Ident); ok && len(fl.Names) == 0 && id.Name == "At" {
					out = append(out, ts.Name.Name)
				}
			}
			return true
		})
	}
	sort.Strings(out)
	return out
}

// mappedTypes are the mmls types recordOf has a case for.
func mappedTypes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "record.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "recordOf" {
			return true
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				if star, ok := e.(*ast.StarExpr); ok {
					if sel, ok := star.X.(*ast.SelectorExpr); ok {
						out = append(out, sel.Sel.Name)
					}
				}
			}
			return true
		})
		return false
	})
	return out
}

// TestEveryEventMappedOrListed: every event the engine can report is
// either carried by the headless contract or listed in notCarried with
// why, so that a new event is not dropped in silence.
func TestEveryEventMappedOrListed(t *testing.T) {
	t.Parallel()
	events, mapped := eventTypes(t), mappedTypes(t)
	if len(events) < 40 {
		t.Fatalf("found only %d event types: the test no longer reads mmls", len(events))
	}
	for _, ev := range events {
		_, listed := notCarried[ev]
		switch in := slices.Contains(mapped, ev); {
		case !in && !listed:
			t.Errorf("mmls.%s is neither mapped in recordOf nor listed in notCarried", ev)
		case in && listed:
			t.Errorf("mmls.%s is mapped and listed as not carried", ev)
		}
	}
	for name := range notCarried {
		if !slices.Contains(events, name) {
			t.Errorf("notCarried lists %s, which is no event", name)
		}
	}
}

// TestEveryCommandDocumented: every slash command of the one table
// (mmls.Specs, behind parsing, /help and completion) is in the README's
// table and in the headless contract's list, so that a new command
// cannot be missed in either.
func TestEveryCommandDocumented(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{filepath.Join("..", "..", "README.md"), filepath.Join("..", "..", "docs", "headless.md")} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range mmls.Specs() {
			if !strings.Contains(string(b), "`/"+s.Name) {
				t.Errorf("%s does not name /%s", doc, s.Name)
			}
		}
	}
}
