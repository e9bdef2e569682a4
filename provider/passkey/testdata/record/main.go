// Command record records WebAuthn ceremonies from a real implementation,
// Chromium's virtual authenticator (Chrome DevTools Protocol WebAuthn
// domain), as the fixtures provider/passkey's recorded-ceremony tests
// replay through the real Service (see ../README.md).
//
// It serves an empty page on http://auth.mana.test:PORT (Chromium maps
// *.mana.test to 127.0.0.1 and treats the origin as secure), and for each
// attestation conveyance ("none", "direct") runs in a fresh browser with a
// fresh authenticator: navigator.credentials.create with the options our
// service hands out (RP id "mana.test", the user handle of a known user
// id, a known challenge), then a discoverable navigator.credentials.get
// (the login) and one restricted to the new credential (the second
// factor). It writes each run as chromium-<format>.json, named by the
// attestation statement format Chromium gave: the options,
// PublicKeyCredential.toJSON() of each answer, and the origin.
//
// It lives under testdata so that `go test ./...` and `go build ./...`
// never build it; run it by hand:
//
//	go run ./provider/passkey/testdata/record -out provider/passkey/testdata
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// UserID is the user the ceremonies are recorded for; the user handle
// is its SHA-256, as passkey.UserHandle makes it.
const (
	UserID = "recorded-user"
	Email  = "kim@mana.test"
	RPID   = "mana.test"
)

// Fixture is one recorded run; the tests read the same shape.
type Fixture struct {
	Recorded     string `json:"recorded"`     // RFC 3339 date
	Browser      string `json:"browser"`      // Chromium's product string
	Conveyance   string `json:"conveyance"`   // the attestation asked for
	Format       string `json:"format"`       // the attestation statement format the authenticator gave
	Origin       string `json:"origin"`       // the page's origin
	RPID         string `json:"rpId"`         // the RP id of every ceremony
	UserID       string `json:"userId"`       // our user id (the handle is its SHA-256)
	Register     Step   `json:"register"`     // navigator.credentials.create
	Login        Step   `json:"login"`        // discoverable navigator.credentials.get
	SecondFactor Step   `json:"secondFactor"` // get restricted to the credential
}

// Step is one ceremony: the options as JSON (publicKey member) and
// PublicKeyCredential.toJSON() of the browser's answer.
type Step struct {
	Options    json.RawMessage `json:"options"`
	Credential json.RawMessage `json:"credential"`
}

func main() {
	out := flag.String("out", ".", "directory the fixtures are written to")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			return errors.New("no Chromium: set CHROMIUM or put chromium on PATH")
		}
		chromium = p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>record</title>"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	origin := "http://auth.mana.test:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	for _, conveyance := range []protocol.ConveyancePreference{protocol.PreferNoAttestation, protocol.PreferDirectAttestation} {
		f, err := record(ctx, chromium, origin, conveyance)
		if err != nil {
			return fmt.Errorf("record %s: %w", conveyance, err)
		}
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			return err
		}
		// Named by what the authenticator really gave, not by what was
		// asked for.
		name := filepath.Join(out, "chromium-"+f.Format+".json")
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", name)
	}
	return nil
}

// challenge is a fixed challenge per step, so a recording is reproducible
// in everything but the authenticator's keys and signatures.
func challenge(conveyance protocol.ConveyancePreference, step string) protocol.URLEncodedBase64 {
	h := sha256.Sum256([]byte("mana-core-auth recorded " + string(conveyance) + " " + step))
	return h[:]
}

func record(parent context.Context, chromium, origin string, conveyance protocol.ConveyancePreference) (*Fixture, error) {
	ctx, cancel := context.WithTimeout(parent, time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "record-webauthn")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(tmp),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP *.mana.test 127.0.0.1"),
		chromedp.Flag("unsafely-treat-insecure-origin-as-secure", origin))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(allocCtx)
	defer cancelB()
	defer func() { _ = chromedp.Cancel(bctx) }()

	f := &Fixture{Recorded: time.Now().UTC().Format(time.DateOnly), Conveyance: string(conveyance), Origin: origin,
		RPID: RPID, UserID: UserID}
	if err := chromedp.Do(bctx, chromedp.Navigate(origin+"/")); err != nil {
		return nil, fmt.Errorf("start Chromium: %w", err)
	}
	v, err := chromedp.CallBrowser(bctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	f.Browser = v.Product
	// The authenticator of the browser test: a platform authenticator
	// with resident keys that verifies its user.
	if _, err := chromedp.Call(bctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		return nil, err
	}
	if _, err := chromedp.Call(bctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
			Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		return nil, err
	}

	// The creation options as passkey.Service.BeginRegistration makes them
	// (its webauthn.Config), with the conveyance asked for.
	handle := sha256.Sum256([]byte(UserID))
	creation := protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{ID: RPID, CredentialEntity: protocol.CredentialEntity{Name: "Mana"}},
		User: protocol.UserEntity{ID: protocol.URLEncodedBase64(handle[:]), DisplayName: "Kim",
			CredentialEntity: protocol.CredentialEntity{Name: Email}},
		Challenge:  challenge(conveyance, "register"),
		Parameters: webauthn.CredentialParametersDefault(),
		Timeout:    300000,
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(), UserVerification: protocol.VerificationPreferred},
		Attestation: conveyance,
	}
	if f.Register, err = ceremony(bctx, "create", creation); err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(f.Register.Credential)
	if err != nil {
		return nil, fmt.Errorf("parse the registration: %w", err)
	}
	f.Format = parsed.Response.AttestationObject.Format
	var reg struct {
		ID       protocol.URLEncodedBase64 `json:"rawId"`
		Response struct {
			Transports []protocol.AuthenticatorTransport `json:"transports"`
		} `json:"response"`
	}
	if err := json.Unmarshal(f.Register.Credential, &reg); err != nil {
		return nil, err
	}
	login := protocol.PublicKeyCredentialRequestOptions{Challenge: challenge(conveyance, "login"), Timeout: 300000,
		RelyingPartyID: RPID, UserVerification: protocol.VerificationPreferred}
	if f.Login, err = ceremony(bctx, "get", login); err != nil {
		return nil, err
	}
	second := protocol.PublicKeyCredentialRequestOptions{Challenge: challenge(conveyance, "second factor"), Timeout: 300000,
		RelyingPartyID: RPID, UserVerification: protocol.VerificationPreferred,
		AllowedCredentials: []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType,
			CredentialID: reg.ID, Transport: reg.Response.Transports}}}
	if f.SecondFactor, err = ceremony(bctx, "get", second); err != nil {
		return nil, err
	}
	return f, nil
}

// ceremony runs navigator.credentials.<method> with options through the
// browser's own JSON helpers and returns the options and toJSON() of the
// answer.
func ceremony(ctx context.Context, method string, options any) (Step, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return Step{}, err
	}
	parse := "parseCreationOptionsFromJSON"
	if method == "get" {
		parse = "parseRequestOptionsFromJSON"
	}
	js := `(async () => JSON.stringify((await navigator.credentials.` + method + `({publicKey: PublicKeyCredential.` +
		parse + `(` + string(opts) + `)})).toJSON()))()`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return Step{}, fmt.Errorf("navigator.credentials.%s: %w", method, err)
	}
	return Step{Options: opts, Credential: json.RawMessage(out)}, nil
}
