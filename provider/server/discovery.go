package server

import (
	"encoding/json"
	"net/http"
)

func (s *server) handleDiscovery() http.Handler {
	doc := s.OP.Discovery(s.Config.BackchannelLogout)
	// The document never changes while the process runs: encode once.
	body, err := json.Marshal(doc)
	if err != nil {
		panic(err) // a map of strings, slices and bools; cannot fail
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
