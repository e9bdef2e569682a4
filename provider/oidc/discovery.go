package oidc

import "github.com/manacore/mana-core-auth/provider"

// Discovery is the OpenID Provider Metadata (and RFC 8414 authorization
// server metadata) of this provider. The grants come from the same list
// New composes handlers for; backchannel says whether back-channel logout
// is delivered.
func (p *Provider) Discovery(backchannel bool) map[string]any {
	iss := p.Config.Issuer
	return map[string]any{
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
		"response_modes_supported":                      responseModes(),
		"grant_types_supported":                         provider.GrantTypes(),
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{provider.AlgEdDSA, provider.AlgRS256},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":              p.challengeMethods(),
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr",
			"at_hash", "email", "email_verified", "name", "picture", "updated_at"},
		"claim_types_supported":                          []string{"normal"},
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"ui_locales_supported":                           []string{"de", "en"},
		"authorization_response_iss_parameter_supported": true,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   backchannel,
		"backchannel_logout_session_supported":           backchannel,
	}
}

// challengeMethods lists the PKCE methods the fosite config lets through,
// so discovery cannot promise what the PKCE handler refuses.
func (p *Provider) challengeMethods() []string {
	if p.fosite.EnablePKCEPlainChallengeMethod {
		return []string{"S256", "plain"}
	}
	return []string{"S256"}
}
