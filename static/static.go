// Package static embeds the stylesheet and images of the server-rendered
// pages. Serve FS under /static/, e.g.
//
//	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static.FS)))
//
// so that css/app.css is reachable as /static/css/app.css.
package static

import "embed"

// FS holds css/, img/ and js/ (paths like "css/app.css", "img/logo.svg"
// and "js/form_post.js", the auto-submit of the form_post response).
//
//go:embed css img js
var FS embed.FS
