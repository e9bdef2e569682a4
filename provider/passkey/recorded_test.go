package passkey_test

// Ceremonies recorded from Chromium's virtual authenticator
// (testdata/chromium-*.json, made by testdata/record; see
// testdata/README.md), replayed through the real Service on both
// backends. Unlike the software authenticator of authenticator_test.go,
// every byte of these answers came from another implementation: its CBOR,
// its attestation statement (packed with an x5c batch certificate, or
// none), its flags and counter.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/passkey"
)

// recording is the shape testdata/record writes.
type recording struct {
	Browser      string `json:"browser"`
	Conveyance   string `json:"conveyance"`
	Format       string `json:"format"`
	Origin       string `json:"origin"`
	RPID         string `json:"rpId"`
	UserID       string `json:"userId"`
	Register     step   `json:"register"`
	Login        step   `json:"login"`
	SecondFactor step   `json:"secondFactor"`
}

type step struct {
	Options    json.RawMessage `json:"options"`
	Credential json.RawMessage `json:"credential"`
}

func loadRecording(t *testing.T, name string) *recording {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &r
}

// chromiumAAGUID is the AAGUID Chromium's virtual authenticator reports
// (01020304-0506-0708-0102-030405060708), in "none" attestation too.
var chromiumAAGUID = []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}

// putRecordedChallenge stores the challenge of a recorded step as the
// service configured with rpID would have stored it when it handed out
// those options: go-webauthn's session data (webauthn.SessionData, as
// Service.begin serialises it) with the recorded challenge, the user
// handle for a registration or second factor, the allowed credentials and
// the key parameters of the options. It returns the challenge id.
func putRecordedChallenge(t *testing.T, f *fixture, kind, userID, rpID string, s step) string {
	t.Helper()
	var o struct {
		Challenge protocol.URLEncodedBase64 `json:"challenge"`
		Selection struct {
			UserVerification protocol.UserVerificationRequirement `json:"userVerification"`
		} `json:"authenticatorSelection"`
		UserVerification protocol.UserVerificationRequirement `json:"userVerification"`
		Allow            []struct {
			ID protocol.URLEncodedBase64 `json:"id"`
		} `json:"allowCredentials"`
	}
	if err := json.Unmarshal(s.Options, &o); err != nil {
		t.Fatalf("recorded options: %v", err)
	}
	var raw struct {
		Params []protocol.CredentialParameter `json:"pubKeyCredParams"`
	}
	if err := json.Unmarshal(s.Options, &raw); err != nil {
		t.Fatal(err)
	}
	session := webauthn.SessionData{Challenge: o.Challenge.String(), RelyingPartyID: rpID, UserVerification: o.UserVerification}
	switch kind {
	case passkey.KindRegister:
		session.UserID, session.UserVerification, session.CredParams = passkey.UserHandle(userID), o.Selection.UserVerification, raw.Params
	case passkey.KindSecondFactor:
		session.UserID = passkey.UserHandle(userID)
		for _, c := range o.Allow {
			session.AllowedCredentialIDs = append(session.AllowedCredentialIDs, c.ID)
		}
	case passkey.KindLogin:
		userID = "" // a discoverable login's challenge belongs to no one yet
	}
	data, err := json.Marshal(&session)
	if err != nil {
		t.Fatal(err)
	}
	c := &provider.WebAuthnChallenge{ID: rand.Text(), Kind: kind, UserID: userID, Data: data,
		ExpiresAt: f.clock.Now().Add(5 * time.Minute)}
	if err := f.store.PutChallenge(t.Context(), c); err != nil {
		t.Fatalf("PutChallenge: %v", err)
	}
	return c.ID
}

// service is a Service on f's store, audit log and notifier with the
// given RP id and origin.
func (f *fixture) service(t *testing.T, rpID, origin string) *passkey.Service {
	t.Helper()
	svc, err := passkey.New(passkey.Config{RPID: rpID, Origins: []string{origin}, Now: f.clock.Now}, f.store, f.audit, f.acct)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestRecordedCeremonies(t *testing.T) {
	for _, tc := range []struct{ file, format string }{
		{"chromium-none.json", "none"},
		{"chromium-packed.json", "packed"},
	} {
		rec := loadRecording(t, tc.file)
		if rec.Format != tc.format {
			t.Fatalf("%s holds %q attestation, want %q", tc.file, rec.Format, tc.format)
		}
		t.Run(tc.format, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) {
				testRecorded(t, f, rec)
			})
		})
	}
}

func testRecorded(t *testing.T, f *fixture, rec *recording) {
	ctx := t.Context()
	u := f.user(t, rec.UserID, "kim@mana.test")
	svc := f.service(t, rec.RPID, rec.Origin)
	// Another deployment: the same RP id, another origin; and the
	// issuer's host as RP id (no COOKIE_DOMAIN), the recorded origin.
	otherOrigin := f.service(t, rec.RPID, "https://auth.mana.test")
	otherRPID := f.service(t, "auth.mana.test", rec.Origin)

	// Registration: refused by the others, accepted by the right one.
	id := putRecordedChallenge(t, f, passkey.KindRegister, u.ID, rec.RPID, rec.Register)
	_, err := otherOrigin.FinishRegistration(ctx, u, id, "", rec.Register.Credential, testIP, testUA, "")
	wantReason(t, err, passkey.ErrCeremony, "origin")
	id = putRecordedChallenge(t, f, passkey.KindRegister, u.ID, "auth.mana.test", rec.Register)
	_, err = otherRPID.FinishRegistration(ctx, u, id, "", rec.Register.Credential, testIP, testUA, "")
	wantReason(t, err, passkey.ErrCeremony, "RP Hash mismatch")

	if rec.Format == "packed" {
		// The attestation statement is verified, not just read: one bit
		// of its signature changed and the registration is refused.
		id = putRecordedChallenge(t, f, passkey.KindRegister, u.ID, rec.RPID, rec.Register)
		_, err = svc.FinishRegistration(ctx, u, id, "", tamperAttestation(t, rec.Register.Credential), testIP, testUA, "")
		wantReason(t, err, passkey.ErrCeremony, "ECDSA verification failure")
	}

	id = putRecordedChallenge(t, f, passkey.KindRegister, u.ID, rec.RPID, rec.Register)
	p, err := svc.FinishRegistration(ctx, u, id, "Chromium", rec.Register.Credential, testIP, testUA, "")
	if err != nil {
		t.Fatalf("FinishRegistration of the recorded %s attestation: %v", rec.Format, err)
	}
	var cred struct {
		RawID protocol.URLEncodedBase64 `json:"rawId"`
	}
	if err := json.Unmarshal(rec.Register.Credential, &cred); err != nil {
		t.Fatal(err)
	}
	// Chromium's registration: counter 1, user present and verified, not
	// backup eligible (the virtual authenticator's default).
	if p.AttestationType != rec.Format || !bytes.Equal(p.AAGUID, chromiumAAGUID) || !bytes.Equal(p.CredentialID, cred.RawID) ||
		p.SignCount != 1 || p.BackupEligible || p.BackupState || !slices.Equal(p.Transports, []string{"internal"}) || p.Name != "Chromium" {
		t.Errorf("stored passkey: format %q aaguid %x count %d backup %v/%v transports %v",
			p.AttestationType, p.AAGUID, p.SignCount, p.BackupEligible, p.BackupState, p.Transports)
	}
	// The same answer again, to the same challenge id: used up.
	_, err = svc.FinishRegistration(ctx, u, id, "", rec.Register.Credential, testIP, testUA, "")
	wantReason(t, err, passkey.ErrCeremony, "challenge")

	// Discoverable sign-in: the others refuse it.
	id = putRecordedChallenge(t, f, passkey.KindLogin, "", rec.RPID, rec.Login)
	_, err = otherOrigin.FinishLogin(ctx, id, rec.Login.Credential, testIP, testUA)
	wantReason(t, err, passkey.ErrCeremony, "origin")
	id = putRecordedChallenge(t, f, passkey.KindLogin, "", "auth.mana.test", rec.Login)
	_, err = otherRPID.FinishLogin(ctx, id, rec.Login.Credential, testIP, testUA)
	wantReason(t, err, passkey.ErrCeremony, "RP Hash mismatch")

	loginID := putRecordedChallenge(t, f, passkey.KindLogin, "", rec.RPID, rec.Login)
	l, err := svc.FinishLogin(ctx, loginID, rec.Login.Credential, testIP, testUA)
	if err != nil {
		t.Fatalf("FinishLogin of the recorded assertion: %v", err)
	}
	if l.User.ID != u.ID || l.Passkey.ID != p.ID || l.Passkey.SignCount != 2 || !slices.Equal(l.Methods, []string{"hwk", "user"}) {
		t.Errorf("login: user %q passkey %q count %d methods %v", l.User.ID, l.Passkey.ID, l.Passkey.SignCount, l.Methods)
	}
	// Replay: the same challenge id again, and the recorded answer to a
	// challenge the server issued afresh.
	_, err = svc.FinishLogin(ctx, loginID, rec.Login.Credential, testIP, testUA)
	wantReason(t, err, passkey.ErrCeremony, "challenge")
	fresh := rec.Login
	fresh.Options = json.RawMessage(`{"challenge":"` + b64.EncodeToString([]byte(rand.Text())) + `","rpId":"` + rec.RPID +
		`","userVerification":"preferred"}`)
	_, err = svc.FinishLogin(ctx, putRecordedChallenge(t, f, passkey.KindLogin, "", rec.RPID, fresh), rec.Login.Credential, testIP, testUA)
	wantReason(t, err, passkey.ErrCeremony, "challenge")

	// The second factor (options restricted to the credential).
	id = putRecordedChallenge(t, f, passkey.KindSecondFactor, u.ID, rec.RPID, rec.SecondFactor)
	l, err = svc.FinishSecondFactor(ctx, u.ID, id, rec.SecondFactor.Credential, testIP, testUA)
	if err != nil {
		t.Fatalf("FinishSecondFactor of the recorded assertion: %v", err)
	}
	if l.Passkey.SignCount != 3 || !slices.Equal(l.Methods, []string{"hwk", "user"}) {
		t.Errorf("second factor: count %d methods %v", l.Passkey.SignCount, l.Methods)
	}

	// Counter regression: the sign-in's answer (count 2), to its own
	// challenge issued again, after the second factor stored 3.
	before := len(f.events(t, u.ID, provider.EventPasskeyCounter))
	_, err = svc.FinishLogin(ctx, putRecordedChallenge(t, f, passkey.KindLogin, "", rec.RPID, rec.Login), rec.Login.Credential, testIP, testUA)
	wantErr(t, err, passkey.ErrCounterRegression)
	ev := f.events(t, u.ID, provider.EventPasskeyCounter)
	if len(ev) != before+1 || ev[0].Detail["stored"] != "3" || ev[0].Detail["received"] != "2" {
		t.Errorf("counter events %+v", ev)
	}
	// And the second factor's answer (count 3) once the stored count is
	// raised above it, as if the key had been used elsewhere meanwhile.
	if err := f.store.UsePasskey(ctx, p.ID, 3, 7, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	id = putRecordedChallenge(t, f, passkey.KindSecondFactor, u.ID, rec.RPID, rec.SecondFactor)
	_, err = svc.FinishSecondFactor(ctx, u.ID, id, rec.SecondFactor.Credential, testIP, testUA)
	wantErr(t, err, passkey.ErrCounterRegression)
	ps, err := svc.List(ctx, u.ID)
	if err != nil || len(ps) != 1 || ps[0].SignCount != 7 {
		t.Errorf("after the refusals: %v, %v", ps, err)
	}
}

// tamperAttestation flips a bit of the packed attestation signature of a
// recorded registration.
func tamperAttestation(t *testing.T, credential json.RawMessage) json.RawMessage {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(credential, &c); err != nil {
		t.Fatal(err)
	}
	resp := c["response"].(map[string]any)
	var att struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(unb64(t, resp["attestationObject"].(string)), &att); err != nil {
		t.Fatal(err)
	}
	sig, ok := att.AttStmt["sig"].([]byte)
	if !ok || len(att.AttStmt["x5c"].([]any)) == 0 {
		t.Fatalf("packed statement without sig or x5c: %v", att.AttStmt)
	}
	sig[len(sig)/2] ^= 1
	b, err := cbor.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	resp["attestationObject"] = b64.EncodeToString(b)
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
