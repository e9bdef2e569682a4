package passkey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// authenticator is a software WebAuthn authenticator for the tests: it
// answers the options the service hands out the way a browser and a
// platform authenticator would, with a P-256 key, "none" or "packed"
// (self) attestation, and flags and counter the test chooses. The fields
// a test changes to misbehave are origin, rpID and count.
type authenticator struct {
	key    *ecdsa.PrivateKey
	credID []byte
	aaguid []byte
	// format is the attestation statement format: "none" or "packed".
	format string
	// origin goes into clientDataJSON; rpID is hashed into the
	// authenticator data ("" takes the options' RP id).
	origin, rpID string
	// userHandle is what registration was given (options.user.id).
	userHandle []byte
	count      uint32
	// be and bs are the backup flags (a synced passkey); uv the user
	// verification flag.
	be, bs, uv bool
	// step is added to the counter before each assertion (0 for a synced
	// passkey, which keeps its counter at 0).
	step uint32
}

func newAuthenticator(t *testing.T, origin, format string) *authenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	aaguid := make([]byte, 16)
	_, _ = rand.Read(aaguid)
	return &authenticator{key: key, credID: id, aaguid: aaguid, format: format, origin: origin, uv: true, step: 1}
}

// options is what the tests read from a ceremony's options.
type options struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	RPID string `json:"rpId"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	AllowCredentials   []struct{ ID string } `json:"allowCredentials"`
	ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
	UserVerification   string                `json:"userVerification"`
	Selection          struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
}

func parseOptions(t *testing.T, raw json.RawMessage) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("options %s: %v", raw, err)
	}
	return o
}

var b64 = base64.RawURLEncoding

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func (a *authenticator) flags() byte {
	f := byte(flagUP)
	if a.uv {
		f |= flagUV
	}
	if a.be {
		f |= flagBE
	}
	if a.bs {
		f |= flagBS
	}
	return f
}

// authData is rpIdHash | flags | signCount, plus the attested credential
// data when cose is given.
func (a *authenticator) authData(rpID string, flags byte, cose []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, a.count)
	if cose != nil {
		out = append(out, a.aaguid...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.credID)))
		out = append(out, a.credID...)
		out = append(out, cose...)
	}
	return out
}

func (a *authenticator) coseKey(t *testing.T) []byte {
	t.Helper()
	pub, err := a.key.PublicKey.Bytes() // 0x04 | X | Y
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a *authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return b
}

func (a *authenticator) sign(t *testing.T, authData, clientData []byte) []byte {
	t.Helper()
	cdh := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (a *authenticator) rp(o options) string {
	if a.rpID != "" {
		return a.rpID
	}
	if o.RP.ID != "" {
		return o.RP.ID
	}
	return o.RPID
}

// register answers creation options: the JSON of the PublicKeyCredential
// (what PublicKeyCredential.toJSON gives the page's script).
func (a *authenticator) register(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	o := parseOptions(t, raw)
	a.userHandle = unb64(t, o.User.ID)
	clientData := a.clientData("webauthn.create", o.Challenge)
	authData := a.authData(a.rp(o), a.flags()|flagAT, a.coseKey(t))
	attStmt := map[string]any{}
	if a.format == "packed" {
		// Self attestation: signed with the credential's own key.
		attStmt = map[string]any{"alg": -7, "sig": a.sign(t, authData, clientData)}
	}
	att, err := cbor.Marshal(map[string]any{"fmt": a.format, "attStmt": attStmt, "authData": authData})
	if err != nil {
		t.Fatal(err)
	}
	return a.credential(map[string]any{
		"clientDataJSON": b64.EncodeToString(clientData), "attestationObject": b64.EncodeToString(att),
		"transports": []string{"internal", "hybrid"},
	})
}

// assert answers request options with the next counter value.
func (a *authenticator) assert(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	o := parseOptions(t, raw)
	a.count += a.step
	clientData := a.clientData("webauthn.get", o.Challenge)
	authData := a.authData(a.rp(o), a.flags(), nil)
	return a.credential(map[string]any{
		"clientDataJSON": b64.EncodeToString(clientData), "authenticatorData": b64.EncodeToString(authData),
		"signature": b64.EncodeToString(a.sign(t, authData, clientData)), "userHandle": b64.EncodeToString(a.userHandle),
	})
}

func (a *authenticator) credential(response map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": response, "clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	})
	return b
}
