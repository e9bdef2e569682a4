package provider

import "time"

// Roles a user can hold.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// User is an account that can sign in.
type User struct {
	ID            string
	Email         string // stored lower-cased; unique
	EmailVerified bool
	Name          string
	// Picture is the https URL of the user's image (the picture claim);
	// empty when none was set. account.ValidPicture says what is accepted.
	Picture      string
	Role         string // RoleUser or RoleAdmin
	PasswordHash string // PHC-formatted argon2id hash; empty for users without a password
	// Disabled accounts cannot sign in; disabling one also ends its
	// sessions and revokes its tokens.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// DeletedAt is set when the person was erased: the row stays as a
	// tombstone without email, name or password, so ids in other systems
	// still resolve to "erased", and the address can register again.
	DeletedAt *time.Time
}

// Client is a registered OAuth 2.0 / OpenID Connect relying party.
type Client struct {
	ID   string
	Name string
	// SecretHash is the hex SHA-256 of the client secret; empty for public
	// clients. Secrets are 256-bit random values, so a slow hash would add
	// nothing but latency to every client_credentials request.
	SecretHash             string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string // authorization_code, refresh_token, client_credentials
	ResponseTypes          []string // code
	Scopes                 []string // scopes the client may request
	Audience               []string // extra audiences the client may request
	Trusted                bool     // first-party: skips consent
	LogoURI                string
	BackchannelLogoutURI   string
	IDTokenAlg             string // "EdDSA" (default) or "RS256"
	// Disabled clients are treated as unknown: no sign-in, no tokens.
	Disabled  bool
	CreatedAt time.Time
}

// Session is a browser login session: the server-side truth behind the
// mana.session cookie.
type Session struct {
	ID          string
	UserID      string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time
	AuthTime    time.Time // when the user last proved who they are
	IP          string
	UserAgent   string
	DeviceID    string
	DeviceName  string
	AuthMethods []string // "pwd", "otp", ...
	RememberMe  bool
}

// Key algorithms.
const (
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

// Key is a signing key. Its private half is kept encrypted.
type Key struct {
	ID         string // the JWK kid
	Alg        string // AlgEdDSA or AlgRS256
	PublicJWK  []byte // JSON of the public JWK
	PrivateEnc []byte // AES-GCM sealed private key (PKCS#8 DER)
	CreatedAt  time.Time
	// ActiveAt is when the key may start signing: rotation publishes a key
	// before it signs so relying parties that cache the JWKS already know it.
	ActiveAt time.Time
	// RetiredAt, once set, is when the key stopped signing (a newer key took over).
	RetiredAt *time.Time
	// ExpiresAt, once set, is when the public key leaves the JWKS: after every
	// token it signed has expired.
	ExpiresAt *time.Time
}

// Consent remembers which scopes a user granted a (non-trusted) client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Kinds of persisted OAuth grant records.
const (
	KindAuthorizeCode = "code"
	KindAccessToken   = "access"
	KindRefreshToken  = "refresh"
	KindOIDC          = "oidc"
	KindPKCE          = "pkce"
)

// Grant is one persisted OAuth request (fosite "requester") keyed by kind
// and token signature. Data is opaque JSON owned by provider/oidc.
type Grant struct {
	Kind      string
	Signature string
	RequestID string // shared by every token of one grant family
	ClientID  string
	Subject   string // user id; empty for client_credentials
	SessionID string // browser session the grant came from; may be empty
	Active    bool
	// RotatedAt is set when a refresh token was exchanged for a successor
	// (as opposed to revoked): only rotated tokens get a grace window.
	RotatedAt   *time.Time
	RequestedAt time.Time
	ExpiresAt   time.Time
	Data        []byte
	// PairedSignature, on a refresh token, is the access token issued with
	// it: rotation revokes exactly that token with a key lookup instead of
	// scanning the whole family.
	PairedSignature string
}

// GraceEntry caches the token response that a refresh token was rotated
// into, so a retry within the grace window gets the same successor.
type GraceEntry struct {
	Signature string // signature of the rotated (old) refresh token
	RequestID string
	Payload   []byte // sealed token response
	ExpiresAt time.Time
}
