package oidc

import (
	"html/template"

	"github.com/ory/fosite"
)

// responseModes are the response modes of the authorization endpoint, as
// discovery lists them: query (the default of the code flow) and
// form_post.
func responseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeQuery, fosite.ResponseModeFormPost}
}

// formPostTemplate is the form_post response page (OAuth 2.0 Form Post
// Response Mode). fosite's own submits itself with an inline onload
// handler, which our Content-Security-Policy blocks; this one loads its
// script from /static/ and shows a button for browsers without
// JavaScript. It adds iss (RFC 9207), as the query mode does, and leaves
// out an empty state.
func formPostTemplate(issuer string) *template.Template {
	return template.Must(template.New("form_post").Funcs(template.FuncMap{"iss": func() string { return issuer }}).Parse(
		`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Continue · Mana</title>
<link rel="stylesheet" href="/static/css/app.css">
<script src="/static/js/form_post.js" defer></script>
</head>
<body>
<div class="shell"><main class="card">
<form class="form" method="post" action="{{.RedirURL}}" data-auto-submit>
{{- range $key, $values := .Parameters}}{{range $values}}{{if or (ne $key "state") .}}
<input type="hidden" name="{{$key}}" value="{{.}}">{{end}}{{end}}{{end}}
<input type="hidden" name="iss" value="{{iss}}">
<p>Returning you to the application…</p>
<button class="btn btn-primary btn-block" type="submit">Continue</button>
</form>
</main></div>
</body>
</html>
`))
}

// GetResponseModes tells fosite which response modes the client may ask
// for (fosite.ResponseModeClient); every client may use every mode we
// offer.
func (c *Client) GetResponseModes() []fosite.ResponseModeType { return responseModes() }
