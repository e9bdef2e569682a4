package templates

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHandlersUseKeyConstants scans the HTTP handlers (provider/server):
// every translation key they pass to the pages is a templates.Key*
// constant whose key is in the table in both languages, and no handler
// spells a key as a string literal, where a typo would only show as an
// untranslated message on a page.
func TestHandlersUseKeyConstants(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	consts := map[string]string{} // Key* constant -> key
	i18n, err := parser.ParseFile(fset, "i18n.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range i18n.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "Key") {
					consts[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	if len(consts) < 20 {
		t.Fatalf("found only %d Key constants in i18n.go", len(consts))
	}

	files, err := filepath.Glob(filepath.Join("..", "provider", "server", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no handler sources found: %v", err)
	}
	used := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "templates" && strings.HasPrefix(n.Sel.Name, "Key") {
					used++
					key, ok := consts[n.Sel.Name]
					if !ok {
						t.Errorf("%s: templates.%s is not a constant of i18n.go", fset.Position(n.Pos()), n.Sel.Name)
					} else if m, ok := messages[key]; !ok || m.en == "" || m.de == "" {
						t.Errorf("%s: templates.%s (%q) is not translated in both languages", fset.Position(n.Pos()), n.Sel.Name, key)
					}
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(n.Value); err == nil {
					if _, ok := messages[s]; ok {
						t.Errorf("%s: translation key %q as a string literal; use its templates.Key constant", fset.Position(n.Pos()), s)
					}
				}
			}
			return true
		})
	}
	if used < 30 {
		t.Fatalf("found only %d uses of templates.Key* in the handlers; is the scan broken?", used)
	}
}
