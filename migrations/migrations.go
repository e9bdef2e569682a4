package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed postgres/*.sql
var postgresFiles embed.FS

//go:embed sqlite/*.sql
var sqliteFiles embed.FS

// The dialect directories, rooted so that List sees bare file names.
var (
	Postgres fs.FS = mustSub(postgresFiles, "postgres")
	SQLite   fs.FS = mustSub(sqliteFiles, "sqlite")
)

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // only reachable if the embed pattern above is broken
	}
	return sub
}

// Migration is one SQL file of a dialect's timeline.
type Migration struct {
	Version int    // the NNNN prefix of the file name
	Name    string // the file name, for messages and the migrations table
	SQL     string
}

// List returns the migrations in fsys ordered by version. It rejects file
// names without a numeric prefix and duplicate versions, because either
// would make the applied-versions table ambiguous.
func List(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(names))
	seen := make(map[int]string, len(names))
	for _, name := range names {
		prefix, _, ok := strings.Cut(path.Base(name), "_")
		if !ok {
			return nil, fmt.Errorf("migration %q: name must look like NNNN_description.sql", name)
		}
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: version prefix %q is not a positive number", name, prefix)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Versions returns just the version numbers of List, ascending.
func Versions(fsys fs.FS) ([]int, error) {
	ms, err := List(fsys)
	if err != nil {
		return nil, err
	}
	vs := make([]int, len(ms))
	for i, m := range ms {
		vs[i] = m.Version
	}
	return vs, nil
}
