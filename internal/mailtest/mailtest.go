// Package mailtest reads the mail the provider sends, for the tests that
// run an SMTP server in-process: the end-to-end tests of provider/server
// and the browser journeys of cmd/manaauth both follow links in it.
package mailtest

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// PlainText returns the text/plain body of msg, decoded: the text part of
// a multipart message, or the whole body of a single-part one. A body it
// cannot read gives what was read so far, so a test's search for a link
// fails with the text in its message rather than here.
func PlainText(msg *mail.Message) string {
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
		return string(body)
	}
	text := ""
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err != nil {
			return text
		}
		body, _ := io.ReadAll(quotedprintable.NewReader(part))
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			text = string(body)
		}
	}
}
