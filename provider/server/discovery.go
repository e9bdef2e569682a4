package server

import (
	"encoding/json"
	"net/http"
)

func (s *server) handleDiscovery() http.Handler {
	iss := s.Config.Issuer
	doc := map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + "/oauth2/authorize",
		"token_endpoint":                                iss + "/oauth2/token",
		"userinfo_endpoint":                             iss + "/oauth2/userinfo",
		"jwks_uri":                                      iss + "/.well-known/jwks.json",
		"introspection_endpoint":                        iss + "/oauth2/introspect",
		"revocation_endpoint":                           iss + "/oauth2/revoke",
		"end_session_endpoint":                          iss + "/oauth2/logout",
		"scopes_supported":                              []string{"openid", "profile", "email", "offline_access"},
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"EdDSA", "RS256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":              []string{"S256"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr",
			"at_hash", "email", "email_verified", "name"},
		"claim_types_supported":                          []string{"normal"},
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"ui_locales_supported":                           []string{"de", "en"},
		"authorization_response_iss_parameter_supported": true,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   s.Logout != nil,
		"backchannel_logout_session_supported":           s.Logout != nil,
	}
	// The document never changes while the process runs: encode once.
	body, err := json.Marshal(doc)
	if err != nil {
		panic(err) // static map of strings; cannot fail
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(body)
	})
}

func (s *server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		// Short enough that relying parties pick up a rotated key before it
		// signs (rotation publishes keys ahead of use).
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(s.JWKS())
	})
}
