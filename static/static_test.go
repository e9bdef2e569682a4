package static

import (
	"io/fs"
	"strings"
	"testing"
)

func TestFS(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"css/app.css", "img/logo.svg"} {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty", name)
		}
	}
}

// TestNoExternalResources guards the strict CSP (default-src 'self'): no
// external fonts, CDNs, imports or inline styles/scripts in the assets.
func TestNoExternalResources(t *testing.T) {
	t.Parallel()
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		s := strings.ToLower(string(b))
		for _, bad := range []string{"@import", "url(http", "url(//", "<script", "<style", " style=", "@font-face"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCSSBraces guards against a rule left open, after which the browser
// drops or misplaces every later rule of the file (it happened: issue 15
// found the connected-apps and passkey styles swallowed by one).
func TestCSSBraces(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(FS, "css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for i, line := range strings.Split(string(b), "\n") {
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth < 0 {
			t.Fatalf("css/app.css line %d closes a block that was not open", i+1)
		}
		top := line != "" && line[0] != ' ' && line[0] != '}' && !strings.HasPrefix(line, "/*")
		if top && depth > 1 {
			t.Fatalf("css/app.css line %d starts a rule inside an unclosed one: %q", i+1, line)
		}
	}
	if depth != 0 {
		t.Fatalf("css/app.css ends with %d unclosed blocks", depth)
	}
}
