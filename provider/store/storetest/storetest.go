package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Run runs the conformance suite. open must return a store on a migrated,
// empty database whose handle is closed by a t.Cleanup; it is called once
// per subtest.
func Run(t *testing.T, open func(t *testing.T) provider.Store) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, provider.Store)
	}{
		{"Ping", testPing},
		{"UserCRUD", testUserCRUD},
		{"UserDuplicates", testUserDuplicates},
		{"ClientCRUD", testClientCRUD},
		{"DeleteClientCascades", testDeleteClientCascades},
		{"SessionCRUD", testSessionCRUD},
		{"ListSessions", testListSessions},
		{"LockSession", testLockSession},
		{"KeyCRUD", testKeyCRUD},
		{"ConsentUpsert", testConsent},
		{"GrantCRUD", testGrantCRUD},
		{"RotateGrant", testRotateGrant},
		{"RevokeRequest", testRevokeRequest},
		{"RevokeSession", testRevokeSession},
		{"RevokeSubject", testRevokeSubject},
		{"DeleteExpired", testDeleteExpired},
		{"Grace", testGrace},
		{"GraceRevoked", testGraceRevoked},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxNested", testTxNested},
		{"TxContinuesAfterError", testTxContinuesAfterError},
		{"TxMisuse", testTxMisuse},
		{"ConcurrentRotate", testConcurrentRotate},
		{"ConcurrentCreateUsers", testConcurrentCreateUsers},
		{"ConcurrentTransactions", testConcurrentTransactions},
		{"Timezones", testTimezones},
		{"MillisecondPrecision", testMillisecondPrecision},
		{"EmptyLists", testEmptyLists},
		{"SQLMetacharacters", testSQLMetacharacters},
		{"TokenCRUD", testTokenCRUD},
		{"DeleteUserTokens", testDeleteUserTokens},
		{"Events", testEvents},
		{"TOTPCRUD", testTOTP},
		{"AdvanceTOTPStep", testAdvanceTOTPStep},
		{"UseRecoveryCode", testUseRecoveryCode},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"AccountTxRollback", testAccountTxRollback},
		{"AccountTxContinuesAfterError", testAccountTxContinuesAfterError},
		{"ConcurrentConsumeToken", testConcurrentConsumeToken},
		{"ConcurrentRecoveryCode", testConcurrentRecoveryCode},
		{"ConcurrentAdvanceTOTP", testConcurrentAdvanceTOTP},
		{"AccountTimezones", testAccountTimezones},
		{"AccountSQLMetacharacters", testAccountSQLMetacharacters},
		{"LogoutEnqueueClaim", testLogoutEnqueueClaim},
		{"LogoutLease", testLogoutLease},
		{"LogoutCompleteRetry", testLogoutCompleteRetry},
		{"LogoutEnqueueAtomic", testLogoutEnqueueAtomic},
		{"LogoutTxRollback", testLogoutTxRollback},
		{"SessionClients", testSessionClients},
		{"ConcurrentClaimLogoutJobs", testConcurrentClaimLogoutJobs},
		{"LogoutSQLMetacharacters", testLogoutSQLMetacharacters},
		// issue 13 (replicas): background work shared by replicas.
		{"InsertKeyIfDue", testInsertKeyIfDue},
		{"ConcurrentInsertKeyIfDue", testConcurrentInsertKeyIfDue},
		{"ReleaseLogoutJob", testReleaseLogoutJob},
		{"ClaimLogoutJobsLimit", testClaimLogoutJobsLimit},
		{"ConcurrentDeleteExpired", testConcurrentDeleteExpired},
		{"ReleaseMailJob", testReleaseMailJob},
		{"ReleaseErasurePart", testReleaseErasurePart},
		{"MailEnqueueClaim", testMailEnqueueClaim},
		{"MailLease", testMailLease},
		{"MailUpdateCompleteRetry", testMailUpdateCompleteRetry},
		{"MailTxRollback", testMailTxRollback},
		{"ConcurrentClaimMailJobs", testConcurrentClaimMailJobs},
		{"MailSQLMetacharacters", testMailSQLMetacharacters},
		{"ClaimLeasesOnlyLimit", testClaimLeasesOnlyLimit},
		// issue 11 part A: admin users and clients
		{"SearchUsers", testSearchUsers},
		{"UpdateClient", testUpdateClient},
		// issue 11, part B (erasure).
		{"EraseUserData", testEraseUserData},
		{"EraseRollback", testEraseRollback},
		{"ErasureQueue", testErasureQueue},
		{"ConcurrentClaimErasureParts", testConcurrentClaimErasureParts},
		{"ConcurrentCompleteErasure", testConcurrentCompleteErasure},
		// issue 12 (connected apps, picture claim).
		{"UserPicture", testUserPicture},
		{"ListConsents", testListConsents},
		{"ClientSubjectSessions", testClientSubjectSessions},
		{"RevokeClientSubject", testRevokeClientSubject},
		// issue 13 (observability): the counts the metrics show.
		{"Stats", testStats},
		// issue 14 (import of the old service).
		{"ImportUsers", testImportUsers},
		{"ImportSessions", testImportSessions},
		{"ImportRollback", testImportRollback},
		{"ConcurrentUseImportedRefreshToken", testConcurrentUseImportedRefreshToken},
		// issue 15 (passkeys).
		{"PasskeyCRUD", testPasskeyCRUD},
		{"ConcurrentUsePasskey", testConcurrentUsePasskey},
		{"WebAuthnChallenges", testWebAuthnChallenges},
		{"ConcurrentTakeChallenge", testConcurrentTakeChallenge},
		{"DeleteExpiredChallenges", testDeleteExpiredChallenges},
		{"ErasePasskeys", testErasePasskeys},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// t0 has whole milliseconds so values survive the round trip unchanged.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want %v", what, err, sentinel)
	}
}

// assertEqual compares two model structs field by field. Times compare with
// Equal and must come back in UTC; everything else with reflect.DeepEqual.
func assertEqual(t *testing.T, got, want any) {
	t.Helper()
	gv, wv := reflect.Indirect(reflect.ValueOf(got)), reflect.Indirect(reflect.ValueOf(want))
	if !gv.IsValid() || !wv.IsValid() || gv.Type() != wv.Type() {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	timeType := reflect.TypeFor[time.Time]()
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i), wv.Field(i)
		switch {
		case g.Type() == timeType:
			checkTime(t, name, g.Interface().(time.Time), w.Interface().(time.Time))
		case g.Type() == reflect.PointerTo(timeType):
			if g.IsNil() != w.IsNil() {
				t.Errorf("%s: got %v, want %v", name, g.Interface(), w.Interface())
			} else if !g.IsNil() {
				checkTime(t, name, *g.Interface().(*time.Time), *w.Interface().(*time.Time))
			}
		default:
			if !reflect.DeepEqual(g.Interface(), w.Interface()) {
				t.Errorf("%s: got %#v, want %#v", name, g.Interface(), w.Interface())
			}
		}
	}
}

func checkTime(t *testing.T, name string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", name, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s: location %v, want UTC", name, got.Location())
	}
}

func newUser(id string) *provider.User {
	return &provider.User{
		ID: id, Email: id + "@example.com", EmailVerified: true, Name: "User " + id,
		Role: provider.RoleUser, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		CreatedAt: at(0), UpdatedAt: at(time.Second),
	}
}

func newClient(id string) *provider.Client {
	return &provider.Client{
		ID: id, Name: "Client " + id, SecretHash: "9f86d081884c7d659a2feaa0c55ad015",
		Public:                 false,
		RedirectURIs:           []string{"https://" + id + ".mana.how/callback", "http://localhost:5173/cb"},
		PostLogoutRedirectURIs: []string{"https://" + id + ".mana.how/"},
		GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes:          []string{"code"},
		Scopes:                 []string{"openid", "profile", "email", "offline_access"},
		Audience:               []string{"manacore", "https://api.mana.how"},
		Trusted:                true,
		LogoURI:                "https://" + id + ".mana.how/logo.svg",
		BackchannelLogoutURI:   "https://" + id + ".mana.how/backchannel",
		IDTokenAlg:             provider.AlgEdDSA,
		CreatedAt:              at(0),
	}
}

func newSession(id, userID string, created time.Time) *provider.Session {
	return &provider.Session{
		ID: id, UserID: userID, CreatedAt: created, LastSeenAt: created,
		ExpiresAt: created.Add(time.Hour), AuthTime: created,
		IP: "203.0.113.7", UserAgent: "Mozilla/5.0", DeviceID: "dev-" + id, DeviceName: "Laptop",
		AuthMethods: []string{"pwd"}, RememberMe: true,
	}
}

func newGrant(kind, sig, requestID string) *provider.Grant {
	return &provider.Grant{
		Kind: kind, Signature: sig, RequestID: requestID, ClientID: "app", Subject: "user-1",
		SessionID: "sess-1", Active: true, RequestedAt: at(0), ExpiresAt: at(time.Hour),
		Data: []byte(`{"client_id":"app","session":{"expires_at":{"refresh_token":1742000000}}}`),
	}
}

func testPing(t *testing.T, s provider.Store) {
	must(t, s.Ping(t.Context()))
}

func testUserCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	u := newUser("u1")
	must(t, s.CreateUser(ctx, u))

	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	assertEqual(t, got, u)

	got, err = s.GetUserByEmail(ctx, "U1@Example.COM")
	must(t, err)
	assertEqual(t, got, u)

	n, err := s.CountUsers(ctx)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountUsers = %d, want 1", n)
	}

	u.Email, u.EmailVerified, u.Name = "renamed@example.com", false, "Renamed"
	u.Role, u.PasswordHash, u.UpdatedAt, u.Disabled = provider.RoleAdmin, "", at(time.Hour), true
	u.CreatedAt = at(-time.Hour) // not a mutable field: must be ignored
	erased := at(time.Minute)
	u.DeletedAt = &erased // only erasure sets it: must be ignored
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUser(ctx, "u1")
	must(t, err)
	u.CreatedAt, u.DeletedAt = at(0), nil
	assertEqual(t, got, u)

	tomb := newUser("tomb")
	tomb.DeletedAt = &erased
	must(t, s.CreateUser(ctx, tomb))
	got, err = s.GetUser(ctx, "tomb")
	must(t, err)
	assertEqual(t, got, tomb)
	if _, err := s.GetUserByEmail(ctx, "u1@example.com"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("old email still finds the user: %v", err)
	}

	_, err = s.GetUser(ctx, "nobody")
	wantErr(t, "GetUser(unknown)", err, provider.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantErr(t, "GetUserByEmail(unknown)", err, provider.ErrNotFound)
	wantErr(t, "UpdateUser(unknown)", s.UpdateUser(ctx, newUser("nobody")), provider.ErrNotFound)
}

func testUserDuplicates(t *testing.T, s provider.Store) {
	ctx := t.Context()
	a := newUser("a")
	a.Email = "Mixed.Case@Example.com"
	must(t, s.CreateUser(ctx, a))
	got, err := s.GetUser(ctx, "a")
	must(t, err)
	if got.Email != "mixed.case@example.com" {
		t.Errorf("stored email %q, want it lower-cased", got.Email)
	}

	dupID := newUser("a")
	dupID.Email = "other@example.com"
	wantErr(t, "CreateUser(same id)", s.CreateUser(ctx, dupID), provider.ErrAlreadyExists)

	dupEmail := newUser("b")
	dupEmail.Email = "MIXED.CASE@example.COM"
	wantErr(t, "CreateUser(same email, other case)", s.CreateUser(ctx, dupEmail), provider.ErrAlreadyExists)

	b := newUser("b")
	must(t, s.CreateUser(ctx, b))
	b.Email = "mixed.CASE@example.com"
	wantErr(t, "UpdateUser(taken email)", s.UpdateUser(ctx, b), provider.ErrAlreadyExists)

	n, err := s.CountUsers(ctx)
	must(t, err)
	if n != 2 {
		t.Fatalf("CountUsers = %d, want 2", n)
	}
}

func testClientCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	public := newClient("spa")
	public.Public, public.SecretHash, public.Trusted = true, "", false
	public.IDTokenAlg = provider.AlgRS256
	for _, c := range []*provider.Client{newClient("chat"), public, newClient("admin")} {
		must(t, s.CreateClient(ctx, c))
	}
	wantErr(t, "CreateClient(same id)", s.CreateClient(ctx, newClient("chat")), provider.ErrAlreadyExists)

	got, err := s.GetClient(ctx, "chat")
	must(t, err)
	assertEqual(t, got, newClient("chat"))
	got, err = s.GetClient(ctx, "spa")
	must(t, err)
	assertEqual(t, got, public)

	list, err := s.ListClients(ctx)
	must(t, err)
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"admin", "chat", "spa"}) {
		t.Fatalf("ListClients ids = %v, want ordered by id", ids)
	}
	assertEqual(t, list[0], newClient("admin"))

	must(t, s.DeleteClient(ctx, "chat"))
	_, err = s.GetClient(ctx, "chat")
	wantErr(t, "GetClient(deleted)", err, provider.ErrNotFound)
	wantErr(t, "DeleteClient(deleted)", s.DeleteClient(ctx, "chat"), provider.ErrNotFound)
	_, err = s.GetClient(ctx, "nobody")
	wantErr(t, "GetClient(unknown)", err, provider.ErrNotFound)
}

func testDeleteClientCascades(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, newClient("gone")))
	must(t, s.CreateClient(ctx, newClient("kept")))
	for _, c := range []string{"gone", "kept"} {
		for _, kind := range []string{provider.KindAccessToken, provider.KindRefreshToken} {
			g := newGrant(kind, c+"-"+kind, "req-"+c)
			g.ClientID = c
			must(t, s.CreateGrant(ctx, g))
		}
		must(t, s.PutGrace(ctx, &provider.GraceEntry{
			Signature: c + "-" + provider.KindRefreshToken, RequestID: "req-" + c,
			Payload: []byte("sealed"), ExpiresAt: at(time.Minute),
		}))
		must(t, s.SaveConsent(ctx, &provider.Consent{UserID: "user-1", ClientID: c, Scopes: []string{"openid"}, GrantedAt: at(0)}))
	}

	must(t, s.DeleteClient(ctx, "gone"))

	for _, kind := range []string{provider.KindAccessToken, provider.KindRefreshToken} {
		_, err := s.GetGrant(ctx, kind, "gone-"+kind)
		wantErr(t, "GetGrant(of deleted client)", err, provider.ErrNotFound)
		_, err = s.GetGrant(ctx, kind, "kept-"+kind)
		must(t, err)
	}
	_, err := s.GetGrace(ctx, "gone-"+provider.KindRefreshToken, at(0))
	wantErr(t, "GetGrace(of deleted client)", err, provider.ErrNotFound)
	_, err = s.GetGrace(ctx, "kept-"+provider.KindRefreshToken, at(0))
	must(t, err)
	_, err = s.GetConsent(ctx, "user-1", "gone")
	wantErr(t, "GetConsent(of deleted client)", err, provider.ErrNotFound)
	_, err = s.GetConsent(ctx, "user-1", "kept")
	must(t, err)
}

func testSessionCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	x := newSession("s1", "u1", at(0))
	must(t, s.CreateSession(ctx, x))
	wantErr(t, "CreateSession(same id)", s.CreateSession(ctx, newSession("s1", "u2", at(0))), provider.ErrAlreadyExists)

	got, err := s.GetSession(ctx, "s1", at(time.Minute))
	must(t, err)
	assertEqual(t, got, x)

	// ExpiresAt <= now is expired, to the millisecond.
	_, err = s.GetSession(ctx, "s1", x.ExpiresAt.Add(-time.Millisecond))
	must(t, err)
	_, err = s.GetSession(ctx, "s1", x.ExpiresAt)
	wantErr(t, "GetSession(now == expiry)", err, provider.ErrNotFound)
	_, err = s.GetSession(ctx, "s1", x.ExpiresAt.Add(time.Hour))
	wantErr(t, "GetSession(expired)", err, provider.ErrNotFound)
	_, err = s.GetSession(ctx, "nope", at(0))
	wantErr(t, "GetSession(unknown)", err, provider.ErrNotFound)

	// Touching slides the expiry, which revives a session GetSession
	// considered expired a moment ago.
	must(t, s.TouchSession(ctx, "s1", at(2*time.Hour), at(3*time.Hour)))
	x.LastSeenAt, x.ExpiresAt = at(2*time.Hour), at(3*time.Hour)
	got, err = s.GetSession(ctx, "s1", at(2*time.Hour))
	must(t, err)
	assertEqual(t, got, x)
	wantErr(t, "TouchSession(unknown)", s.TouchSession(ctx, "nope", at(0), at(time.Hour)), provider.ErrNotFound)

	must(t, s.UpdateSessionAuth(ctx, "s1", at(150*time.Minute), []string{"pwd", "otp"}))
	x.AuthTime, x.AuthMethods = at(150*time.Minute), []string{"pwd", "otp"}
	got, err = s.GetSession(ctx, "s1", at(2*time.Hour))
	must(t, err)
	assertEqual(t, got, x)
	wantErr(t, "UpdateSessionAuth(unknown)", s.UpdateSessionAuth(ctx, "nope", at(0), nil), provider.ErrNotFound)

	must(t, s.DeleteSession(ctx, "s1"))
	_, err = s.GetSession(ctx, "s1", at(2*time.Hour))
	wantErr(t, "GetSession(deleted)", err, provider.ErrNotFound)
	wantErr(t, "DeleteSession(deleted)", s.DeleteSession(ctx, "s1"), provider.ErrNotFound)
}

func testListSessions(t *testing.T, s provider.Store) {
	ctx := t.Context()
	oldest := newSession("a-oldest", "u1", at(-30*time.Minute))
	newest := newSession("b-newest", "u1", at(10*time.Minute))
	middle := newSession("c-middle", "u1", at(0))
	expired := newSession("d-expired", "u1", at(-3*time.Hour))
	other := newSession("e-other", "u2", at(0))
	for _, x := range []*provider.Session{middle, expired, oldest, other, newest} {
		must(t, s.CreateSession(ctx, x))
	}
	got, err := s.ListSessions(ctx, "u1", at(20*time.Minute))
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("ListSessions returned %d sessions, want 3", len(got))
	}
	for i, want := range []*provider.Session{newest, middle, oldest} {
		assertEqual(t, got[i], want)
	}
	got, err = s.ListSessions(ctx, "nobody", at(0))
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("ListSessions(unknown user) = %v, want none", got)
	}
}

func testKeyCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	k1 := &provider.Key{ID: "k1", Alg: provider.AlgEdDSA, PublicJWK: []byte(`{"kty":"OKP","crv":"Ed25519","x":"abc"}`),
		PrivateEnc: allBytes, CreatedAt: at(0), ActiveAt: at(time.Hour)}
	k2 := &provider.Key{ID: "k2", Alg: provider.AlgRS256, PublicJWK: []byte(`{"kty":"RSA"}`),
		PrivateEnc: []byte{0, 1, 2, 0}, CreatedAt: at(-time.Hour), ActiveAt: at(-time.Hour),
		RetiredAt: ptr(at(time.Hour)), ExpiresAt: ptr(at(48 * time.Hour))}
	k3 := &provider.Key{ID: "k3", Alg: provider.AlgEdDSA, PublicJWK: []byte(`{}`),
		PrivateEnc: []byte{0xff}, CreatedAt: at(time.Hour), ActiveAt: at(2 * time.Hour)}
	for _, k := range []*provider.Key{k1, k2, k3} {
		must(t, s.InsertKey(ctx, k))
	}
	wantErr(t, "InsertKey(same id)", s.InsertKey(ctx, k1), provider.ErrAlreadyExists)

	list, err := s.ListKeys(ctx)
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("ListKeys returned %d keys, want 3", len(list))
	}
	for i, want := range []*provider.Key{k2, k1, k3} { // by CreatedAt
		assertEqual(t, list[i], want)
	}

	must(t, s.UpdateKeyTimes(ctx, "k1", ptr(at(3*time.Hour)), ptr(at(72*time.Hour))))
	must(t, s.UpdateKeyTimes(ctx, "k2", nil, nil))
	k1.RetiredAt, k1.ExpiresAt = ptr(at(3*time.Hour)), ptr(at(72*time.Hour))
	k2.RetiredAt, k2.ExpiresAt = nil, nil
	list, err = s.ListKeys(ctx)
	must(t, err)
	assertEqual(t, list[0], k2)
	assertEqual(t, list[1], k1)
	wantErr(t, "UpdateKeyTimes(unknown)", s.UpdateKeyTimes(ctx, "nope", nil, nil), provider.ErrNotFound)

	must(t, s.DeleteKey(ctx, "k2"))
	wantErr(t, "DeleteKey(deleted)", s.DeleteKey(ctx, "k2"), provider.ErrNotFound)
	list, err = s.ListKeys(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != "k1" || list[1].ID != "k3" {
		t.Fatalf("ListKeys after delete = %v", list)
	}
}

func testConsent(t *testing.T, s provider.Store) {
	ctx := t.Context()
	_, err := s.GetConsent(ctx, "u1", "app")
	wantErr(t, "GetConsent(none)", err, provider.ErrNotFound)

	c := &provider.Consent{UserID: "u1", ClientID: "app", Scopes: []string{"openid", "profile"}, GrantedAt: at(0)}
	must(t, s.SaveConsent(ctx, c))
	must(t, s.SaveConsent(ctx, &provider.Consent{UserID: "u1", ClientID: "other", Scopes: []string{"openid"}, GrantedAt: at(0)}))
	got, err := s.GetConsent(ctx, "u1", "app")
	must(t, err)
	assertEqual(t, got, c)

	c.Scopes, c.GrantedAt = []string{"openid", "profile", "email"}, at(time.Hour)
	must(t, s.SaveConsent(ctx, c))
	got, err = s.GetConsent(ctx, "u1", "app")
	must(t, err)
	assertEqual(t, got, c)

	must(t, s.DeleteConsent(ctx, "u1", "app"))
	_, err = s.GetConsent(ctx, "u1", "app")
	wantErr(t, "GetConsent(deleted)", err, provider.ErrNotFound)
	wantErr(t, "DeleteConsent(deleted)", s.DeleteConsent(ctx, "u1", "app"), provider.ErrNotFound)
	_, err = s.GetConsent(ctx, "u1", "other")
	must(t, err)
}

func testGrantCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	g := newGrant(provider.KindRefreshToken, "sig", "req")
	must(t, s.CreateGrant(ctx, g))
	wantErr(t, "CreateGrant(same kind and signature)", s.CreateGrant(ctx, g), provider.ErrAlreadyExists)
	// The signature is unique per kind only.
	must(t, s.CreateGrant(ctx, newGrant(provider.KindAccessToken, "sig", "req")))

	got, err := s.GetGrant(ctx, provider.KindRefreshToken, "sig")
	must(t, err)
	assertEqual(t, got, g)

	inactive := newGrant(provider.KindAuthorizeCode, "code", "req")
	inactive.Active, inactive.RotatedAt, inactive.Subject, inactive.SessionID = false, ptr(at(time.Minute)), "", ""
	must(t, s.CreateGrant(ctx, inactive))
	got, err = s.GetGrant(ctx, provider.KindAuthorizeCode, "code")
	must(t, err)
	assertEqual(t, got, inactive)

	must(t, s.DeactivateGrant(ctx, provider.KindRefreshToken, "sig"))
	got, err = s.GetGrant(ctx, provider.KindRefreshToken, "sig")
	must(t, err) // inactive grants are still returned
	g.Active = false
	// RotatedAt stays nil: deactivation is not rotation.
	assertEqual(t, got, g)
	must(t, s.DeactivateGrant(ctx, provider.KindRefreshToken, "sig")) // idempotent
	wantErr(t, "DeactivateGrant(unknown)", s.DeactivateGrant(ctx, provider.KindRefreshToken, "nope"), provider.ErrNotFound)

	must(t, s.DeleteGrant(ctx, provider.KindRefreshToken, "sig"))
	_, err = s.GetGrant(ctx, provider.KindRefreshToken, "sig")
	wantErr(t, "GetGrant(deleted)", err, provider.ErrNotFound)
	wantErr(t, "DeleteGrant(deleted)", s.DeleteGrant(ctx, provider.KindRefreshToken, "sig"), provider.ErrNotFound)
	_, err = s.GetGrant(ctx, provider.KindAccessToken, "sig")
	must(t, err)
	_, err = s.GetGrant(ctx, provider.KindOIDC, "sig")
	wantErr(t, "GetGrant(other kind)", err, provider.ErrNotFound)
}

func testRotateGrant(t *testing.T, s provider.Store) {
	ctx := t.Context()
	g := newGrant(provider.KindRefreshToken, "r1", "req")
	g.PairedSignature = "access-of-r1"
	must(t, s.CreateGrant(ctx, g))
	paired, err := s.RotateGrant(ctx, provider.KindRefreshToken, "r1", at(time.Minute))
	must(t, err)
	if paired != "access-of-r1" {
		t.Fatalf("RotateGrant returned paired %q, want %q", paired, "access-of-r1")
	}
	got, err := s.GetGrant(ctx, provider.KindRefreshToken, "r1")
	must(t, err)
	g.Active, g.RotatedAt = false, ptr(at(time.Minute))
	assertEqual(t, got, g)

	wantErr(t, "RotateGrant(again)", second(s.RotateGrant(ctx, provider.KindRefreshToken, "r1", at(2*time.Minute))), provider.ErrConflict)
	got, err = s.GetGrant(ctx, provider.KindRefreshToken, "r1")
	must(t, err)
	assertEqual(t, got, g) // the losing rotation changed nothing

	must(t, s.CreateGrant(ctx, newGrant(provider.KindRefreshToken, "r2", "req")))
	must(t, s.DeactivateGrant(ctx, provider.KindRefreshToken, "r2"))
	wantErr(t, "RotateGrant(deactivated)", second(s.RotateGrant(ctx, provider.KindRefreshToken, "r2", at(0))), provider.ErrConflict)
	err = second(s.RotateGrant(ctx, provider.KindRefreshToken, "nope", at(0)))
	wantErr(t, "RotateGrant(unknown)", err, provider.ErrNotFound)
	if errors.Is(err, provider.ErrConflict) {
		t.Fatalf("RotateGrant(unknown) also matches ErrConflict: %v", err)
	}
}

func testRevokeRequest(t *testing.T, s provider.Store) {
	ctx := t.Context()
	rotated := newGrant(provider.KindRefreshToken, "r-old", "req")
	must(t, s.CreateGrant(ctx, rotated))
	must(t, second(s.RotateGrant(ctx, provider.KindRefreshToken, "r-old", at(time.Minute))))
	for _, g := range []*provider.Grant{
		newGrant(provider.KindRefreshToken, "r-new", "req"),
		newGrant(provider.KindAccessToken, "a", "req"),
		newGrant(provider.KindRefreshToken, "r-other", "other-req"),
	} {
		must(t, s.CreateGrant(ctx, g))
	}

	must(t, s.RevokeRequest(ctx, provider.KindRefreshToken, "req"))

	for _, tc := range []struct {
		kind, sig string
		active    bool
	}{
		{provider.KindRefreshToken, "r-new", false},
		{provider.KindRefreshToken, "r-old", false},
		{provider.KindAccessToken, "a", true}, // other kind
		{provider.KindRefreshToken, "r-other", true},
	} {
		got, err := s.GetGrant(ctx, tc.kind, tc.sig)
		must(t, err)
		if got.Active != tc.active {
			t.Errorf("%s %s: active = %v, want %v", tc.kind, tc.sig, got.Active, tc.active)
		}
		if tc.sig == "r-old" && (got.RotatedAt == nil || !got.RotatedAt.Equal(at(time.Minute))) {
			t.Errorf("revocation changed RotatedAt of a rotated token: %v", got.RotatedAt)
		}
		if tc.sig == "r-new" && got.RotatedAt != nil {
			t.Errorf("revocation set RotatedAt: %v", got.RotatedAt)
		}
	}
	must(t, s.RevokeRequest(ctx, provider.KindRefreshToken, "no-such-request"))
}

func testRevokeSession(t *testing.T, s provider.Store) {
	ctx := t.Context()
	mk := func(sig, session string, active bool) {
		g := newGrant(provider.KindRefreshToken, sig, "req-"+sig)
		g.SessionID, g.Active = session, active
		must(t, s.CreateGrant(ctx, g))
	}
	mk("s1-a", "s1", true)
	mk("s1-b", "s1", true)
	mk("s1-dead", "s1", false)
	mk("s2-a", "s2", true)
	mk("machine", "", true) // client_credentials: no browser session

	n, err := s.RevokeSession(ctx, "s1")
	must(t, err)
	if n != 2 {
		t.Fatalf("RevokeSession = %d, want 2 (already inactive grants do not count)", n)
	}
	n, err = s.RevokeSession(ctx, "s1")
	must(t, err)
	if n != 0 {
		t.Fatalf("RevokeSession again = %d, want 0", n)
	}
	n, err = s.RevokeSession(ctx, "")
	must(t, err)
	if n != 0 {
		t.Fatalf(`RevokeSession("") = %d, want 0`, n)
	}
	for sig, active := range map[string]bool{"s1-a": false, "s1-b": false, "s2-a": true, "machine": true} {
		got, err := s.GetGrant(ctx, provider.KindRefreshToken, sig)
		must(t, err)
		if got.Active != active {
			t.Errorf("%s: active = %v, want %v", sig, got.Active, active)
		}
	}
}

func testRevokeSubject(t *testing.T, s provider.Store) {
	ctx := t.Context()
	mk := func(kind, sig, subject string) {
		g := newGrant(kind, sig, "req-"+sig)
		g.Subject = subject
		must(t, s.CreateGrant(ctx, g))
	}
	mk(provider.KindRefreshToken, "u1-r", "u1")
	mk(provider.KindAccessToken, "u1-a", "u1")
	mk(provider.KindAuthorizeCode, "u1-c", "u1")
	mk(provider.KindRefreshToken, "u2-r", "u2")
	mk(provider.KindAccessToken, "machine", "")

	n, err := s.RevokeSubject(ctx, "u1")
	must(t, err)
	if n != 3 {
		t.Fatalf("RevokeSubject = %d, want 3", n)
	}
	n, err = s.RevokeSubject(ctx, "")
	must(t, err)
	if n != 0 {
		t.Fatalf(`RevokeSubject("") = %d, want 0`, n)
	}
	for _, tc := range []struct {
		kind, sig string
		active    bool
	}{
		{provider.KindRefreshToken, "u1-r", false},
		{provider.KindAccessToken, "u1-a", false},
		{provider.KindAuthorizeCode, "u1-c", false},
		{provider.KindRefreshToken, "u2-r", true},
		{provider.KindAccessToken, "machine", true},
	} {
		got, err := s.GetGrant(ctx, tc.kind, tc.sig)
		must(t, err)
		if got.Active != tc.active {
			t.Errorf("%s: active = %v, want %v", tc.sig, got.Active, tc.active)
		}
	}
}

func testDeleteExpired(t *testing.T, s provider.Store) {
	ctx := t.Context()
	cutoff := at(time.Hour)
	for sig, exp := range map[string]time.Time{
		"long-gone":  at(-time.Hour),
		"just-gone":  cutoff.Add(-time.Millisecond),
		"at-cutoff":  cutoff, // "before" is strict
		"still-live": cutoff.Add(time.Hour),
	} {
		g := newGrant(provider.KindAccessToken, sig, "req-"+sig)
		g.ExpiresAt = exp
		must(t, s.CreateGrant(ctx, g))
	}
	for sig, exp := range map[string]time.Time{"grace-gone": cutoff, "grace-live": cutoff.Add(time.Millisecond)} {
		must(t, s.PutGrace(ctx, &provider.GraceEntry{Signature: sig, RequestID: "r", Payload: []byte("p"), ExpiresAt: exp}))
	}

	oldSess := newSession("sess-gone", "u", at(-2*time.Hour))
	oldSess.ExpiresAt = cutoff
	must(t, s.CreateSession(ctx, oldSess))
	liveSess := newSession("sess-live", "u", at(-2*time.Hour))
	liveSess.ExpiresAt = cutoff.Add(time.Second)
	must(t, s.CreateSession(ctx, liveSess))

	for hash, exp := range map[string]time.Time{"token-gone": cutoff, "token-live": cutoff.Add(time.Millisecond)} {
		x := newToken(hash, provider.PurposeResetPassword, "u")
		x.ExpiresAt = exp
		must(t, s.CreateToken(ctx, x))
	}

	n, err := s.DeleteExpired(ctx, cutoff)
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteExpired = %d, want 2 (grants only)", n)
	}
	// Consume with an early "now" so only deletion can hide a token.
	_, err = s.ConsumeToken(ctx, provider.PurposeResetPassword, "token-gone", at(0))
	wantErr(t, "ConsumeToken(expired and swept)", err, provider.ErrNotFound)
	_, err = s.ConsumeToken(ctx, provider.PurposeResetPassword, "token-live", at(0))
	must(t, err)
	// Query with an early "now" so only deletion can hide a session.
	wantErr(t, "DeleteSession(expired and swept)", s.DeleteSession(ctx, "sess-gone"), provider.ErrNotFound)
	if _, err := s.GetSession(ctx, "sess-live", at(-3*time.Hour)); err != nil {
		t.Fatalf("live session swept: %v", err)
	}
	for sig, exists := range map[string]bool{"long-gone": false, "just-gone": false, "at-cutoff": true, "still-live": true} {
		_, err := s.GetGrant(ctx, provider.KindAccessToken, sig)
		if exists {
			must(t, err)
		} else {
			wantErr(t, "GetGrant("+sig+")", err, provider.ErrNotFound)
		}
	}
	// Look up with an early "now" so only deletion can hide the entry.
	_, err = s.GetGrace(ctx, "grace-gone", at(0))
	wantErr(t, "GetGrace(expired and swept)", err, provider.ErrNotFound)
	_, err = s.GetGrace(ctx, "grace-live", at(0))
	must(t, err)

	n, err = s.DeleteExpired(ctx, cutoff)
	must(t, err)
	if n != 0 {
		t.Fatalf("DeleteExpired again = %d, want 0", n)
	}
}

func testGrace(t *testing.T, s provider.Store) {
	ctx := t.Context()
	e := &provider.GraceEntry{Signature: "old", RequestID: "req", Payload: []byte{0, 1, 2, 3, 0xfe, 0xff}, ExpiresAt: at(10 * time.Second)}
	must(t, s.PutGrace(ctx, e))
	got, err := s.GetGrace(ctx, "old", at(0))
	must(t, err)
	assertEqual(t, got, e)

	_, err = s.GetGrace(ctx, "old", e.ExpiresAt)
	wantErr(t, "GetGrace(now == expiry)", err, provider.ErrNotFound)
	_, err = s.GetGrace(ctx, "old", at(time.Hour))
	wantErr(t, "GetGrace(expired)", err, provider.ErrNotFound)
	_, err = s.GetGrace(ctx, "nope", at(0))
	wantErr(t, "GetGrace(unknown)", err, provider.ErrNotFound)

	e2 := &provider.GraceEntry{Signature: "old", RequestID: "req2", Payload: []byte("replaced"), ExpiresAt: at(time.Minute)}
	must(t, s.PutGrace(ctx, e2))
	got, err = s.GetGrace(ctx, "old", at(30*time.Second))
	must(t, err)
	assertEqual(t, got, e2)
}

func testGraceRevoked(t *testing.T, s provider.Store) {
	ctx := t.Context()
	// A family per revocation path: the rotated token, its grace entry, and
	// its successor.
	family := func(name string) {
		old := newGrant(provider.KindRefreshToken, name+"-old", name)
		old.SessionID, old.Subject = name+"-session", name+"-user"
		must(t, s.CreateGrant(ctx, old))
		must(t, second(s.RotateGrant(ctx, provider.KindRefreshToken, name+"-old", at(0))))
		successor := *old
		successor.Signature, successor.Active, successor.RotatedAt = name+"-new", true, nil
		must(t, s.CreateGrant(ctx, &successor))
		must(t, s.PutGrace(ctx, &provider.GraceEntry{Signature: name + "-old", RequestID: name,
			Payload: []byte("response"), ExpiresAt: at(time.Minute)}))
		if _, err := s.GetGrace(ctx, name+"-old", at(0)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"byrequest", "bysession", "bysubject", "untouched"} {
		family(name)
	}
	must(t, s.RevokeRequest(ctx, provider.KindRefreshToken, "byrequest"))
	_, err := s.RevokeSession(ctx, "bysession-session")
	must(t, err)
	_, err = s.RevokeSubject(ctx, "bysubject-user")
	must(t, err)

	for _, name := range []string{"byrequest", "bysession", "bysubject"} {
		_, err := s.GetGrace(ctx, name+"-old", at(0))
		wantErr(t, "GetGrace(revoked "+name+")", err, provider.ErrNotFound)
	}
	_, err = s.GetGrace(ctx, "untouched-old", at(0))
	must(t, err)
}

func testTxCommit(t *testing.T, s provider.Store) {
	ctx := t.Context()
	tx, err := s.BeginTx(ctx)
	must(t, err)
	defer s.Rollback(tx) //nolint:errcheck // a no-op after Commit
	must(t, s.CreateUser(tx, newUser("u1")))
	must(t, s.CreateGrant(tx, newGrant(provider.KindRefreshToken, "r", "req")))
	must(t, second(s.RotateGrant(tx, provider.KindRefreshToken, "r", at(time.Minute))))

	// Reads through the tx see its own uncommitted writes.
	if _, err := s.GetUser(tx, "u1"); err != nil {
		t.Fatalf("GetUser inside the tx: %v", err)
	}
	g, err := s.GetGrant(tx, provider.KindRefreshToken, "r")
	must(t, err)
	if g.Active {
		t.Fatal("GetGrant inside the tx does not see the rotation")
	}
	n, err := s.CountUsers(tx)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountUsers inside the tx = %d, want 1", n)
	}

	// Others do not. The timeout turns a backend that blocks readers
	// behind an open transaction into a failure instead of a hang.
	outside, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = s.GetUser(outside, "u1")
	wantErr(t, "GetUser outside the uncommitted tx", err, provider.ErrNotFound)

	must(t, s.Commit(tx))
	must(t, s.Rollback(tx)) // after Commit: no-op
	if _, err := s.GetUser(ctx, "u1"); err != nil {
		t.Fatalf("GetUser after commit: %v", err)
	}
	g, err = s.GetGrant(ctx, provider.KindRefreshToken, "r")
	must(t, err)
	if g.Active || g.RotatedAt == nil {
		t.Fatalf("rotation not committed: %+v", g)
	}
}

func testTxRollback(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateGrant(ctx, newGrant(provider.KindRefreshToken, "r", "req")))
	tx, err := s.BeginTx(ctx)
	must(t, err)
	must(t, s.CreateUser(tx, newUser("u1")))
	must(t, second(s.RotateGrant(tx, provider.KindRefreshToken, "r", at(time.Minute))))
	must(t, s.Rollback(tx))

	_, err = s.GetUser(ctx, "u1")
	wantErr(t, "GetUser after rollback", err, provider.ErrNotFound)
	g, err := s.GetGrant(ctx, provider.KindRefreshToken, "r")
	must(t, err)
	if !g.Active || g.RotatedAt != nil {
		t.Fatalf("rolled-back rotation is visible: %+v", g)
	}
	// The store is usable afterwards (the write connection came back).
	must(t, s.CreateUser(ctx, newUser("u2")))

	// A failed statement inside a tx surfaces its sentinel; the caller may
	// still roll back.
	tx, err = s.BeginTx(ctx)
	must(t, err)
	wantErr(t, "CreateUser(dup) in tx", s.CreateUser(tx, newUser("u2")), provider.ErrAlreadyExists)
	must(t, s.Rollback(tx))
}

func testTxNested(t *testing.T, s provider.Store) {
	ctx := t.Context()
	outer, err := s.BeginTx(ctx)
	must(t, err)
	must(t, s.CreateUser(outer, newUser("outer")))

	inner, err := s.BeginTx(outer)
	must(t, err)
	must(t, s.CreateUser(inner, newUser("inner")))
	if _, err := s.GetUser(inner, "outer"); err != nil {
		t.Fatalf("inner tx does not see the outer one's write: %v", err)
	}
	must(t, s.Commit(inner)) // joins the outer tx: nothing is committed yet
	if _, err := s.GetUser(outer, "inner"); err != nil {
		t.Fatalf("outer tx does not see the inner one's write: %v", err)
	}
	must(t, s.Rollback(outer))

	for _, id := range []string{"outer", "inner"} {
		_, err := s.GetUser(ctx, id)
		wantErr(t, "GetUser("+id+") after outer rollback", err, provider.ErrNotFound)
	}

	// And the other way round: an inner Rollback does not abort the outer tx.
	outer, err = s.BeginTx(ctx)
	must(t, err)
	inner, err = s.BeginTx(outer)
	must(t, err)
	must(t, s.CreateUser(inner, newUser("kept")))
	must(t, s.Rollback(inner))
	must(t, s.Commit(outer))
	if _, err := s.GetUser(ctx, "kept"); err != nil {
		t.Fatalf("inner Rollback aborted the outer tx: %v", err)
	}
}

// A sentinel error inside a transaction fails that call only: the caller
// may handle it and go on. (PostgreSQL aborts a transaction on any failed
// statement, so its backend must avoid raising one for these.)
func testTxContinuesAfterError(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("a")))
	must(t, s.CreateClient(ctx, newClient("app")))
	must(t, s.CreateGrant(ctx, newGrant(provider.KindRefreshToken, "r", "req")))
	must(t, second(s.RotateGrant(ctx, provider.KindRefreshToken, "r", at(0))))
	must(t, s.InsertKey(ctx, &provider.Key{ID: "k", Alg: provider.AlgEdDSA, CreatedAt: at(0), ActiveAt: at(0)}))
	must(t, s.CreateSession(ctx, newSession("s", "a", at(0))))

	tx, err := s.BeginTx(ctx)
	must(t, err)
	defer s.Rollback(tx) //nolint:errcheck // a no-op after Commit
	b := newUser("b")
	must(t, s.CreateUser(tx, b))
	for _, tc := range []struct {
		what     string
		err      error
		sentinel error
	}{
		{"CreateUser(taken id)", s.CreateUser(tx, newUser("a")), provider.ErrAlreadyExists},
		{"CreateUser(taken email)", s.CreateUser(tx, &provider.User{ID: "c", Email: "A@example.com"}), provider.ErrAlreadyExists},
		{"UpdateUser(taken email)", s.UpdateUser(tx, &provider.User{ID: "b", Email: "a@example.com"}), provider.ErrAlreadyExists},
		{"UpdateUser(unknown)", s.UpdateUser(tx, newUser("nobody")), provider.ErrNotFound},
		{"CreateClient(taken)", s.CreateClient(tx, newClient("app")), provider.ErrAlreadyExists},
		{"CreateGrant(taken)", s.CreateGrant(tx, newGrant(provider.KindRefreshToken, "r", "req")), provider.ErrAlreadyExists},
		{"RotateGrant(rotated)", second(s.RotateGrant(tx, provider.KindRefreshToken, "r", at(0))), provider.ErrConflict},
		{"InsertKey(taken)", s.InsertKey(tx, &provider.Key{ID: "k", Alg: provider.AlgEdDSA}), provider.ErrAlreadyExists},
		{"CreateSession(taken)", s.CreateSession(tx, newSession("s", "a", at(0))), provider.ErrAlreadyExists},
		{"DeleteSession(unknown)", s.DeleteSession(tx, "nope"), provider.ErrNotFound},
	} {
		wantErr(t, tc.what, tc.err, tc.sentinel)
	}
	b.Name = "still in the tx"
	must(t, s.UpdateUser(tx, b))
	must(t, s.CreateGrant(tx, newGrant(provider.KindRefreshToken, "r2", "req")))
	must(t, s.Commit(tx))

	got, err := s.GetUser(ctx, "b")
	must(t, err)
	if got.Name != b.Name {
		t.Fatalf("Name = %q, want %q", got.Name, b.Name)
	}
	_, err = s.GetGrant(ctx, provider.KindRefreshToken, "r2")
	must(t, err)
}

func testTxMisuse(t *testing.T, s provider.Store) {
	ctx := t.Context()
	if err := s.Commit(ctx); err == nil {
		t.Error("Commit without a transaction: want an error")
	}
	if err := s.Rollback(ctx); err == nil {
		t.Error("Rollback without a transaction: want an error")
	}
}

const workers = 20

func testConcurrentRotate(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateGrant(ctx, newGrant(provider.KindRefreshToken, "hot", "req")))
	errs := parallel(workers, func(i int) error {
		return second(s.RotateGrant(ctx, provider.KindRefreshToken, "hot", at(time.Duration(i)*time.Millisecond)))
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, provider.ErrConflict):
		default:
			t.Errorf("RotateGrant: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent rotations succeeded, want exactly 1", won, workers)
	}
}

func testConcurrentCreateUsers(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for i, err := range parallel(workers, func(i int) error {
		return s.CreateUser(ctx, newUser(fmt.Sprintf("user-%02d", i)))
	}) {
		if err != nil {
			t.Errorf("CreateUser #%d: %v", i, err)
		}
	}
	n, err := s.CountUsers(ctx)
	must(t, err)
	if n != workers {
		t.Fatalf("CountUsers = %d, want %d", n, workers)
	}
}

// Transactions from many goroutines, each reading and then writing, must
// all commit: SQLite's deferred read-then-write upgrade is what fails with
// SQLITE_BUSY when a backend gets its locking wrong.
func testConcurrentTransactions(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for i, err := range parallel(workers, func(i int) error {
		tx, err := s.BeginTx(ctx)
		if err != nil {
			return err
		}
		defer s.Rollback(tx) //nolint:errcheck // a no-op after Commit
		sig := fmt.Sprintf("sig-%02d", i)
		if _, err := s.GetGrant(tx, provider.KindRefreshToken, sig); !errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("GetGrant before create: %v", err)
		}
		if err := s.CreateGrant(tx, newGrant(provider.KindRefreshToken, sig, "req")); err != nil {
			return err
		}
		if err := second(s.RotateGrant(tx, provider.KindRefreshToken, sig, at(0))); err != nil {
			return err
		}
		return s.Commit(tx)
	}) {
		if err != nil {
			t.Errorf("transaction #%d: %v", i, err)
		}
	}
	for i := range workers {
		g, err := s.GetGrant(ctx, provider.KindRefreshToken, fmt.Sprintf("sig-%02d", i))
		must(t, err)
		if g.Active {
			t.Errorf("grant %d: rotation lost", i)
		}
	}
}

// parallel runs fn(0..n-1) at once, released together, and returns each error.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testTimezones(t *testing.T, s provider.Store) {
	ctx := t.Context()
	// Offsets on both sides of UTC, one of them not a whole hour.
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	west := time.FixedZone("UTC-08", -8*3600)
	local := func(d time.Duration, loc *time.Location) time.Time { return at(d).In(loc) }

	u := newUser("tz")
	u.CreatedAt, u.UpdatedAt = local(0, east), local(time.Hour, west)
	must(t, s.CreateUser(ctx, u))
	gotU, err := s.GetUser(ctx, "tz")
	must(t, err)
	assertEqual(t, gotU, u)

	c := newClient("tz")
	c.CreatedAt = local(0, west)
	must(t, s.CreateClient(ctx, c))
	gotC, err := s.GetClient(ctx, "tz")
	must(t, err)
	assertEqual(t, gotC, c)

	x := newSession("tz", "tz", local(0, east))
	x.ExpiresAt, x.AuthTime = local(time.Hour, west), local(-time.Minute, west)
	must(t, s.CreateSession(ctx, x))
	// now is compared as an instant too: 30 minutes in, in a third zone.
	gotX, err := s.GetSession(ctx, "tz", local(30*time.Minute, time.FixedZone("UTC+14", 14*3600)))
	must(t, err)
	assertEqual(t, gotX, x)
	_, err = s.GetSession(ctx, "tz", local(time.Hour, east))
	wantErr(t, "GetSession(expired, other zone)", err, provider.ErrNotFound)

	k := &provider.Key{ID: "tz", Alg: provider.AlgEdDSA, PublicJWK: []byte("{}"), PrivateEnc: []byte{1},
		CreatedAt: local(0, east), ActiveAt: local(time.Hour, west),
		RetiredAt: ptr(local(2*time.Hour, east)), ExpiresAt: ptr(local(3*time.Hour, west))}
	must(t, s.InsertKey(ctx, k))
	keys, err := s.ListKeys(ctx)
	must(t, err)
	assertEqual(t, keys[0], k)

	cs := &provider.Consent{UserID: "tz", ClientID: "tz", Scopes: []string{"openid"}, GrantedAt: local(0, west)}
	must(t, s.SaveConsent(ctx, cs))
	gotCS, err := s.GetConsent(ctx, "tz", "tz")
	must(t, err)
	assertEqual(t, gotCS, cs)

	g := newGrant(provider.KindRefreshToken, "tz", "tz")
	g.RequestedAt, g.ExpiresAt, g.RotatedAt = local(0, east), local(time.Hour, west), ptr(local(time.Minute, east))
	must(t, s.CreateGrant(ctx, g))
	gotG, err := s.GetGrant(ctx, provider.KindRefreshToken, "tz")
	must(t, err)
	assertEqual(t, gotG, g)

	e := &provider.GraceEntry{Signature: "tz", RequestID: "tz", Payload: []byte("p"), ExpiresAt: local(time.Minute, west)}
	must(t, s.PutGrace(ctx, e))
	gotE, err := s.GetGrace(ctx, "tz", local(0, east))
	must(t, err)
	assertEqual(t, gotE, e)
}

// Both backends keep milliseconds, so a time with finer precision comes
// back truncated, identically on each.
func testMillisecondPrecision(t *testing.T, s provider.Store) {
	ctx := t.Context()
	fine := t0.Add(123*time.Millisecond + 456*time.Microsecond + 789*time.Nanosecond)
	g := newGrant(provider.KindAccessToken, "fine", "req")
	g.RequestedAt, g.ExpiresAt = fine, fine.Add(time.Hour)
	must(t, s.CreateGrant(ctx, g))
	got, err := s.GetGrant(ctx, provider.KindAccessToken, "fine")
	must(t, err)
	if want := fine.Truncate(time.Millisecond); !got.RequestedAt.Equal(want) {
		t.Fatalf("RequestedAt = %v, want %v", got.RequestedAt, want)
	}
}

// Empty and nil lists and payloads both come back nil, so callers can
// compare a nil they stored with what they read.
func testEmptyLists(t *testing.T, s provider.Store) {
	ctx := t.Context()
	c := &provider.Client{ID: "bare", RedirectURIs: []string{}, CreatedAt: at(0)}
	must(t, s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, "bare")
	must(t, err)
	c.RedirectURIs = nil
	assertEqual(t, got, c)

	x := &provider.Session{ID: "bare", UserID: "u", CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour)}
	must(t, s.CreateSession(ctx, x))
	gotX, err := s.GetSession(ctx, "bare", at(0))
	must(t, err)
	assertEqual(t, gotX, x)

	g := &provider.Grant{Kind: provider.KindPKCE, Signature: "bare", RequestedAt: at(0), ExpiresAt: at(time.Hour)}
	must(t, s.CreateGrant(ctx, g))
	gotG, err := s.GetGrant(ctx, provider.KindPKCE, "bare")
	must(t, err)
	assertEqual(t, gotG, g)

	cs := &provider.Consent{UserID: "u", ClientID: "bare", Scopes: []string{}, GrantedAt: at(0)}
	must(t, s.SaveConsent(ctx, cs))
	gotCS, err := s.GetConsent(ctx, "u", "bare")
	must(t, err)
	if len(gotCS.Scopes) != 0 {
		t.Fatalf("Scopes = %#v, want empty", gotCS.Scopes)
	}
}

// Every string field holds SQL syntax, quotes, backslashes, JSON and
// non-ASCII text and must come back byte for byte: values are bound as
// parameters, never spliced into SQL.
func testSQLMetacharacters(t *testing.T, s provider.Store) {
	ctx := t.Context()
	evil := []string{
		`'; DROP TABLE users; --`,
		`" OR 1=1 --`,
		`\'\\%_*?[]{}$1 ?1 :name @p`,
		`{"a":["b"],"c":null}`,
		`Grüße, 東京, Ωμέγα, 🔐`,
		"tab\tnew\nline\r",
	}
	for i, v := range evil {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			id := fmt.Sprintf("%d%s", i, v)
			u := &provider.User{ID: id, Email: fmt.Sprintf("%d%s@example.com", i, v), Name: v, Role: v,
				PasswordHash: v, CreatedAt: at(0), UpdatedAt: at(0)}
			must(t, s.CreateUser(ctx, u))
			u.Email = strings.ToLower(u.Email) // the one field stored normalised
			gotU, err := s.GetUser(ctx, id)
			must(t, err)
			assertEqual(t, gotU, u)
			gotU, err = s.GetUserByEmail(ctx, u.Email)
			must(t, err)
			assertEqual(t, gotU, u)

			c := &provider.Client{ID: id, Name: v, SecretHash: v, RedirectURIs: []string{v, v + "2"},
				PostLogoutRedirectURIs: []string{v}, GrantTypes: []string{v}, ResponseTypes: []string{v},
				Scopes: []string{v, "", v}, Audience: []string{v}, LogoURI: v, BackchannelLogoutURI: v,
				IDTokenAlg: v, CreatedAt: at(0)}
			must(t, s.CreateClient(ctx, c))
			gotC, err := s.GetClient(ctx, id)
			must(t, err)
			assertEqual(t, gotC, c)

			x := &provider.Session{ID: id, UserID: id, CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour),
				AuthTime: at(0), IP: v, UserAgent: v, DeviceID: v, DeviceName: v, AuthMethods: []string{v}}
			must(t, s.CreateSession(ctx, x))
			gotX, err := s.GetSession(ctx, id, at(0))
			must(t, err)
			assertEqual(t, gotX, x)
			list, err := s.ListSessions(ctx, id, at(0))
			must(t, err)
			if len(list) != 1 {
				t.Fatalf("ListSessions = %d sessions, want 1", len(list))
			}

			k := &provider.Key{ID: id, Alg: v, PublicJWK: []byte(v), PrivateEnc: []byte(v), CreatedAt: at(time.Duration(i)), ActiveAt: at(0)}
			must(t, s.InsertKey(ctx, k))
			must(t, s.DeleteKey(ctx, id))

			cs := &provider.Consent{UserID: id, ClientID: id, Scopes: []string{v}, GrantedAt: at(0)}
			must(t, s.SaveConsent(ctx, cs))
			gotCS, err := s.GetConsent(ctx, id, id)
			must(t, err)
			assertEqual(t, gotCS, cs)

			g := &provider.Grant{Kind: v, Signature: id, RequestID: v, ClientID: id, Subject: id, SessionID: id,
				Active: true, RequestedAt: at(0), ExpiresAt: at(time.Hour), Data: []byte(v)}
			must(t, s.CreateGrant(ctx, g))
			gotG, err := s.GetGrant(ctx, v, id)
			must(t, err)
			assertEqual(t, gotG, g)
			e := &provider.GraceEntry{Signature: id, RequestID: v, Payload: []byte(v), ExpiresAt: at(time.Hour)}
			must(t, s.PutGrace(ctx, e))
			gotE, err := s.GetGrace(ctx, id, at(0))
			must(t, err)
			assertEqual(t, gotE, e)
			must(t, s.RevokeRequest(ctx, v, v))
			if n, err := s.RevokeSession(ctx, id); err != nil || n != 0 {
				t.Fatalf("RevokeSession after RevokeRequest = %d, %v; want 0", n, err)
			}
			_, err = s.GetGrace(ctx, id, at(0))
			wantErr(t, "GetGrace after revoke", err, provider.ErrNotFound)
			must(t, s.DeleteClient(ctx, id))
			_, err = s.GetGrant(ctx, v, id)
			wantErr(t, "GetGrant after DeleteClient", err, provider.ErrNotFound)
		})
	}
	// The tables the payloads threatened are all still there.
	n, err := s.CountUsers(ctx)
	must(t, err)
	if n != len(evil) {
		t.Fatalf("CountUsers = %d, want %d", n, len(evil))
	}
}

// second drops the value a call returns (RotateGrant's paired signature, a
// consumed token) where a test only cares about the error.
func second[T any](_ T, err error) error { return err }

// testLockSession: a session locked in a transaction cannot be deleted
// (ended) until that transaction ends; an expired session can be locked
// too, an unknown one cannot.
func testLockSession(t *testing.T, s provider.Store) {
	ctx := t.Context()
	x := newSession("lock-1", "u1", at(0))
	must(t, s.CreateSession(ctx, x))
	tx, err := s.BeginTx(ctx)
	must(t, err)
	defer func() { _ = s.Rollback(tx) }()
	must(t, s.LockSession(tx, "lock-1")) // expired by now (at(0) lies in the past): still locks
	wantErr(t, "LockSession(unknown)", s.LockSession(tx, "nope"), provider.ErrNotFound)

	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteSession(context.WithoutCancel(ctx), "lock-1") }()
	select {
	case err := <-deleted:
		t.Fatalf("session deleted while locked: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	must(t, s.Commit(tx))
	select {
	case err := <-deleted:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("delete did not go on after the lock was released")
	}
}
