package mail

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DevSender is the Sender for --dev without SMTP_HOST. It writes each message
// as an .eml file (open it in any mail client) and logs the first link of the
// text body, so a developer can click through verification and reset flows
// without a mail server. Logging the link is deliberate and is why this type
// must never be used in production: the link carries a live token.
type DevSender struct {
	dir    string
	logger *slog.Logger
	from   *mail.Address
	link   *regexp.Regexp
	now    func() time.Time
}

// NewDevSender returns a DevSender writing into dir, which is created on
// first use. A nil logger discards.
func NewDevSender(dir string, logger *slog.Logger) *DevSender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DevSender{
		dir:    dir,
		logger: logger.With("component", "mail"),
		// Nothing is ever delivered from here, so any well-formed sender will do.
		from: &mail.Address{Name: "Mana Dev", Address: "noreply@localhost"},
		link: regexp.MustCompile(`https?://[^\s<>"']+`),
		now:  time.Now,
	}
}

// Send writes m to a new file in the directory. Files are 0600 and the
// directory 0700 because the links inside are live credentials.
func (d *DevSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write dev mail: %w", err)
	}
	p, err := validate(m)
	if err != nil {
		return err
	}
	now := d.now()
	raw, err := buildMessage(d.from, p, now)
	if err != nil {
		return fmt.Errorf("build mail: %w", err)
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("create dev mail dir: %w", err)
	}
	// Timestamp first so `ls` lists mails in order; the random suffix keeps
	// two mails in the same nanosecond apart, and O_EXCL makes sure.
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + rand.Text()[:8] + ".eml"
	path := filepath.Join(d.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create dev mail file: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("write dev mail %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close dev mail %s: %w", path, err)
	}

	link := strings.TrimRight(d.link.FindString(m.Text), ".,;:!?)")
	d.logger.InfoContext(ctx, "mail written",
		"path", path,
		"to_domain", domainOf(p.to.Address),
		"subject", m.Subject,
		"link", link, // dev only: see the type comment
	)
	return nil
}
