package oidc

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
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

// TestActiveGrantFlights: concurrent misses for one token in one epoch
// share one read; a request that saw a later epoch reads for itself, and
// a failed shared read is retried by each waiter.
func TestActiveGrantFlights(t *testing.T) {
	var c activeGrants
	release := make(chan struct{})
	var loads atomic.Int32
	slow := func() (readGrant, error) {
		loads.Add(1)
		<-release
		return readGrant{active: true}, nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if g, err := c.read("sig", 1, slow); err != nil || !g.active {
				t.Errorf("shared read: %v %v", g, err)
			}
		})
	}
	// Wait until the leader is loading and the seven others wait on it.
	joined := func(k flightKey) int {
		c.fmu.Lock()
		defer c.fmu.Unlock()
		if f := c.flights[k]; f != nil {
			return f.joined
		}
		return -1
	}
	for deadline := time.Now().Add(5 * time.Second); joined(flightKey{"sig", 1}) < 7; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the concurrent misses did not join one flight")
		}
	}
	later := func() (readGrant, error) { return readGrant{active: false}, nil }
	if g, err := c.read("sig", 2, later); err != nil || g.active {
		t.Errorf("a later epoch joined the earlier flight: %v %v", g, err)
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("%d loads for 8 concurrent misses, want 1", n)
	}
	// A failed shared read: every waiter tries on its own.
	failed := make(chan struct{})
	var own atomic.Int32
	go func() {
		_, _ = c.read("sig2", 1, func() (readGrant, error) { <-failed; return readGrant{}, errors.New("cancelled") })
	}()
	for deadline := time.Now().Add(5 * time.Second); joined(flightKey{"sig2", 1}) < 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failing read never started")
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if g, err := c.read("sig2", 1, func() (readGrant, error) { own.Add(1); return readGrant{active: true}, nil }); err != nil || !g.active {
			t.Errorf("waiter after a failed flight: %v %v", g, err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); joined(flightKey{"sig2", 1}) < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not join the failing read")
		}
	}
	close(failed)
	<-done
	if own.Load() != 1 {
		t.Errorf("waiter loaded %d times after the shared read failed, want 1", own.Load())
	}
}

// TestRevocationsValid: an entry read under a mark stays usable only until
// a later revocation of its token, its request or of everything; records
// of other tokens leave it alone; a transaction's revocations count again
// at its commit; old records are pruned once no entry can need them.
func TestRevocationsValid(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	clock := func() time.Time { return now }
	st, rev := WatchRevocations(nil, clock)
	rs := st.(*revokingStore)
	ctx := context.Background()
	m0 := rev.Mark()
	if !rev.valid(m0, "sigA", "reqA") {
		t.Fatal("nothing revoked, entry invalid")
	}
	rs.revokedAccess(ctx, provider.KindRefreshToken, "sigA")
	if rev.Mark() != m0 {
		t.Fatal("a refresh token revocation was recorded (only access tokens are cached)")
	}
	rs.revokedAccess(ctx, provider.KindAccessToken, "sigB")
	if !rev.valid(m0, "sigA", "reqA") || rev.valid(m0, "sigB", "reqB") {
		t.Fatal("a revocation by signature reached the wrong entry")
	}
	m1 := rev.Mark()
	if !rev.valid(m1, "sigB", "reqB") {
		t.Fatal("an entry read after the revocation is refused")
	}
	rev.record(rev.byReq, "reqA")
	if rev.valid(m1, "sigA", "reqA") || !rev.valid(m1, "sigC", "reqC") {
		t.Fatal("a revocation by request reached the wrong entry")
	}
	m2 := rev.Mark()
	rs.revokedAll(ctx)
	if rev.valid(m2, "sigC", "reqC") {
		t.Fatal("a revocation of everything left an entry")
	}
	// Inside a transaction: recorded at the call and again at the commit.
	tx := context.WithValue(ctx, txKey{}, &txRevocations{})
	rs.revokedAccess(tx, provider.KindAccessToken, "sigD")
	m3 := rev.Mark() // a reader between the call and the commit
	rec := tx.Value(txKey{}).(*txRevocations)
	if len(rec.sigs) != 1 {
		t.Fatal("the transaction did not keep its revocation")
	}
	for _, sig := range rec.sigs { // what Commit does after the store's commit
		rev.record(rev.bySig, sig)
	}
	if rev.valid(m3, "sigD", "reqD") {
		t.Fatal("what was read before the commit outlived it")
	}
	// Pruned after two entry lifetimes, not before.
	now = now.Add(2 * activeTTL)
	rev.record(rev.bySig, "sigE")
	if _, ok := rev.bySig["sigB"]; !ok {
		t.Fatal("a record pruned while an entry might still need it")
	}
	now = now.Add(activeTTL + time.Millisecond)
	rev.record(rev.bySig, "sigF")
	if _, ok := rev.bySig["sigB"]; ok {
		t.Fatal("old records are never pruned")
	}
}
