package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// buildVersion and buildRevision are set with -ldflags -X by builds that
// have no .git to stamp from (the Dockerfile keeps .git out of its
// context); Go's own stamps win when present.
var buildVersion, buildRevision string

// cmdVersion prints what the binary was built from: the module version
// (a tag for `go install …@v1.2.3`, "(devel)" for a checkout) and the VCS
// revision Go stamps into builds from a git checkout.
func cmdVersion(stdout io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdout, "manaauth: no build information (built without module support)")
		return nil
	}
	version := moduleVersion(bi)
	revision, when, modified := "unknown (built without VCS information, e.g. by go run or go test)", "", ""
	if buildRevision != "" {
		revision = buildRevision
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (with uncommitted changes)"
			}
		}
	}
	fmt.Fprintf(stdout, "manaauth %s\n  module:   %s\n  revision: %s%s\n", version, bi.Main.Path, revision, modified)
	if when != "" {
		fmt.Fprintf(stdout, "  commit time: %s\n", when)
	}
	fmt.Fprintf(stdout, "  go:       %s\n", bi.GoVersion)
	return nil
}

// moduleVersion is the version a build reports (version, metrics, traces):
// Go's module stamp, else the -ldflags one, else "(devel)".
func moduleVersion(bi *debug.BuildInfo) string {
	version := ""
	if bi != nil {
		version = bi.Main.Version
	}
	if (version == "" || version == "(devel)") && buildVersion != "" {
		version = buildVersion
	}
	if version == "" {
		version = "(devel)"
	}
	return version
}

// runningVersion is moduleVersion of this binary.
func runningVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return moduleVersion(bi)
}
