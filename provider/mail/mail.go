// Package mail sends the transactional emails of Mana Core Auth (address
// verification, password reset, password-changed notice).
//
// Two senders implement [Sender]: [SMTP] for real delivery and [DevSender],
// which drops .eml files into a directory during development. Both render the
// same RFC 5322 bytes (see buildMessage), so what a developer opens locally is
// what a mailbox would receive. [Compose] turns a [Kind] and [Data] into a
// localized [Message].
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is one email to one recipient. To may carry a display name
// (`Jürgen <j@example.de>`). Text is required; HTML is optional and, when
// set, is sent as the preferred alternative.
type Message struct{ To, Subject, Text, HTML string }

// Sender delivers a Message. Implementations honour ctx cancellation and
// deadlines.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

var (
	_ Sender = (*SMTP)(nil)
	_ Sender = (*DevSender)(nil)
)

// ErrInvalidMessage is returned (wrapped) when a Message cannot be sent as
// given: CR/LF in a header field, an unparseable recipient or an empty body.
// Retrying will not help.
var ErrInvalidMessage = errors.New("invalid mail message")

// parsed is a validated Message together with its parsed recipient.
type parsed struct {
	Message
	to *mail.Address
}

// validate rejects header injection before anything is parsed: net/mail would
// happily accept folded whitespace, so CR and LF are refused outright rather
// than relying on the parser's idea of what is a legal address.
func validate(m Message) (parsed, error) {
	if strings.ContainsAny(m.To, "\r\n") {
		return parsed{}, fmt.Errorf("%w: CR or LF in To", ErrInvalidMessage)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return parsed{}, fmt.Errorf("%w: CR or LF in Subject", ErrInvalidMessage)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return parsed{}, fmt.Errorf("%w: parse To: %w", ErrInvalidMessage, err)
	}
	if m.Text == "" {
		return parsed{}, fmt.Errorf("%w: empty text body", ErrInvalidMessage)
	}
	return parsed{Message: m, to: to}, nil
}

// domainOf returns the part after the last @, which is all that may be logged
// about a recipient.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// buildMessage renders m as RFC 5322 bytes with CRLF line endings. The result
// is 7-bit clean: the subject and display names are RFC 2047 encoded and the
// bodies quoted-printable, so no relay needs 8BITMIME or SMTPUTF8 (ASCII
// addresses assumed).
func buildMessage(from *mail.Address, m parsed, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }

	header("From", from.String())
	header("To", m.to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	// The domain part ties the ID to the sender, as RFC 5322 recommends; the
	// random part makes it unique without any shared counter.
	header("Message-ID", "<"+rand.Text()+"@"+domainOf(from.Address)+">")
	header("MIME-Version", "1.0")
	// RFC 3834: stops vacation responders from answering a no-reply sender.
	header("Auto-Submitted", "auto-generated")

	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		if err := writeQP(&buf, m.Text); err != nil {
			return nil, fmt.Errorf("encode text body: %w", err)
		}
		return buf.Bytes(), nil
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	buf.WriteString("\r\n")

	// RFC 2046: alternatives go from least to most preferred, so HTML last.
	for _, p := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("create %s part: %w", p.ctype, err)
		}
		if err := writeQP(w, p.content); err != nil {
			return nil, fmt.Errorf("encode %s part: %w", p.ctype, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("close multipart: %w", err)
	}
	buf.Write(body.Bytes())
	return buf.Bytes(), nil
}

// writeQP writes s quoted-printable encoded; in text mode the encoder turns
// every line break into CRLF, which is what SMTP expects.
func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}
