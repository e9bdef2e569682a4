package deploy_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// dockerfileLines returns the Dockerfile's instructions, continuation
// lines joined and comments dropped.
func dockerfileLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

// dockerignored reports whether .dockerignore keeps rel (slash-separated,
// relative to the repository root) out of the build context. It knows
// the pattern forms the file uses: name, dir/, /name, **/glob.
func dockerignored(patterns []string, rel string) bool {
	parts := strings.Split(rel, "/")
	for _, p := range patterns {
		p = strings.TrimPrefix(strings.TrimSuffix(p, "/"), "/")
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		pp := strings.Split(p, "/")
		for start := 0; start < len(parts); start++ {
			if start > 0 && !anyDepth {
				break
			}
			// The pattern matches a path or one of its parent directories.
			if len(parts)-start < len(pp) {
				break
			}
			ok := true
			for i := range pp {
				if m, _ := filepath.Match(pp[i], parts[start+i]); !m {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

func TestDockerignoreMatcher(t *testing.T) {
	patterns := []string{".git", "bin/", "**/*.db", "**/testdata/artifacts/", "/manaauth"}
	for rel, want := range map[string]bool{
		".git/config": true, "bin/manaauth": true, "data/x.db": true, "cmd/manaauth/testdata/artifacts/a.png": true,
		"manaauth": true, "cmd/manaauth/main.go": false, "templates/layout.templ": false, "go.mod": false,
	} {
		if got := dockerignored(patterns, rel); got != want {
			t.Errorf("dockerignored(%q) = %v, want %v", rel, got, want)
		}
	}
}

// TestDockerfileBuild checks the image definition without a Docker
// engine: the runtime stage's settings, and the build stage's `go build`
// run here as written, on a copy of exactly the files .dockerignore lets
// into the build context. The binary must be static, report the
// VERSION and REVISION build arguments, and exit 1 with one line from
// `healthcheck` when nothing answers, as Docker's HEALTHCHECK needs.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the image build compiles the whole binary")
	}
	lines := dockerfileLines(t)
	last := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			last = i
		}
	}
	runtimeStage := strings.Join(lines[last:], "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM gcr\.io/distroless/static-debian12:nonroot$`),
		regexp.MustCompile(`(?m)^USER 65532:65532$`),
		regexp.MustCompile(`(?m)^EXPOSE 3001$`),
		regexp.MustCompile(`(?m)^VOLUME \["/data"\]$`),
		regexp.MustCompile(`(?m)^COPY --from=build --chown=65532:65532 /out/data /data$`),
		regexp.MustCompile(`(?m)^ENV DATABASE_URL=sqlite:/data/manaauth\.db`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["/usr/local/bin/manaauth", "healthcheck"`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/manaauth"\]$`),
	} {
		if !want.MatchString(runtimeStage) {
			t.Errorf("runtime stage lacks %s:\n%s", want, runtimeStage)
		}
	}

	var build string
	for _, l := range lines[:last] {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = l
		}
	}
	if build == "" {
		t.Fatal("no RUN … go build in the build stage")
	}
	// The cache mounts are BuildKit's business; the rest is a shell command.
	build = regexp.MustCompile(`--mount=\S+\s*`).ReplaceAllString(strings.TrimPrefix(build, "RUN "), "")
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/manaauth") {
		t.Errorf("the build is not make build's static one: %s", build)
	}

	ignoreFile, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignoreFile), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	ctxDir, out := t.TempDir(), t.TempDir()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if dockerignored(patterns, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(ctxDir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, kept := range []string{".git", "deploy", "bin"} {
		if _, err := os.Stat(filepath.Join(ctxDir, kept)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is in the build context", kept)
		}
	}

	cmd := exec.CommandContext(t.Context(), "sh", "-c", strings.ReplaceAll(build, "/out/", out+"/"))
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH,
		"VERSION=v9.9.9-test", "REVISION=0123456789abcdef")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "manaauth")
	if st, err := os.Stat(filepath.Join(out, "data")); err != nil || !st.IsDir() {
		t.Errorf("/out/data for the volume was not made: %v", err)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): it would not run on distroless/static", p.Type)
		}
	}
	f.Close()

	version, err := exec.CommandContext(t.Context(), bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"manaauth v9.9.9-test", "revision: 0123456789abcdef"} {
		if !strings.Contains(string(version), want) {
			t.Errorf("version lacks %q:\n%s", want, version)
		}
	}

	hc := exec.CommandContext(t.Context(), bin, "healthcheck", "-url", "http://127.0.0.1:1/health/ready", "-timeout", "2s")
	var stderr bytes.Buffer
	hc.Stderr = &stderr
	err = hc.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("healthcheck against a closed port: %v, want exit status 1", err)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("healthcheck stderr = %q, want one line with the reason", stderr.String())
	}
}
