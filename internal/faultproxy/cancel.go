package faultproxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// CancelAfterResponse is an http.RoundTripper that makes the real round
// trip and, once the answer has been read in full, calls Cancel: a worker
// whose context it cancels sees its shutdown begin just as its call
// succeeded, the moment where a job must be recorded, not handed back.
type CancelAfterResponse struct{ Cancel context.CancelFunc }

// RoundTrip implements http.RoundTripper.
func (c CancelAfterResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		// Read the answer first, so the cancellation cannot cut it off.
		body, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		c.Cancel()
	}
	return resp, err
}
