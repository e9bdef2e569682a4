// Package static embeds the stylesheet and images of the server-rendered
// pages. Serve FS under /static/, e.g.
//
//	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static.FS)))
//
// so that css/app.css is reachable as /static/css/app.css.
package static

import "embed"

// FS holds css/ and img/ (paths like "css/app.css" and "img/logo.svg").
//
//go:embed css img
var FS embed.FS
