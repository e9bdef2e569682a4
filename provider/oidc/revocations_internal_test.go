package oidc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRevokingStoreCoversEveryGrantWrite reads the SQL of both store
// backends: every store method that updates or deletes grants (itself or
// through a helper of its backend) must be overridden by revokingStore, or
// a revocation through it would leave cached answers standing for up to
// activeTTL on the revoking replica.
func TestRevokingStoreCoversEveryGrantWrite(t *testing.T) {
	writes := regexp.MustCompile(`(?i)(UPDATE|DELETE FROM)\s+(auth\.)?grants\b`)
	overridden := methodsOf(t, []string{"revocations.go"}, "revokingStore", nil)
	for _, backend := range []string{"postgres", "sqlite"} {
		files, err := filepath.Glob(filepath.Join("..", "store", backend, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s store sources: %v", backend, err)
		}
		var src []string
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				src = append(src, f)
			}
		}
		bodies := map[string]string{}
		methodsOf(t, src, "Store", bodies)
		// Methods that write grants, then those calling such a helper.
		writers := map[string]bool{}
		for name, body := range bodies {
			if writes.MatchString(body) {
				writers[name] = true
			}
		}
		for changed := true; changed; {
			changed = false
			for name, body := range bodies {
				for w := range writers {
					if !writers[name] && strings.Contains(body, "s."+w+"(") {
						writers[name], changed = true, true
					}
				}
			}
		}
		for name := range writers {
			if ast.IsExported(name) && !overridden[name] {
				t.Errorf("%s store: %s updates or deletes grants but revokingStore does not override it", backend, name)
			}
		}
		if len(writers) < 8 {
			t.Fatalf("%s store: found only %d grant writers; the scan is broken", backend, len(writers))
		}
	}
}

// methodsOf returns the methods declared on recv in files; with bodies it
// also records each method's source.
func methodsOf(t *testing.T, files []string, recv string, bodies map[string]string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			typ := fn.Recv.List[0].Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			if id, ok := typ.(*ast.Ident); !ok || id.Name != recv {
				continue
			}
			out[fn.Name.Name] = true
			if bodies != nil {
				bodies[fn.Name.Name] = string(src[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset])
			}
		}
	}
	return out
}
