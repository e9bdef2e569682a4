package account

import (
	"net/url"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
)

// The profile picture (issue 12): the picture claim is a URL relying
// parties put into <img src> on their own pages, so only what cannot hurt
// them is accepted.

// MaxPictureLength caps a picture URL; longer ones are not images anyone
// links to, and every ID token carries it.
const MaxPictureLength = 2048

// ProfileChange names the profile fields to set; a nil field is left as
// it is. An empty Picture removes the picture.
type ProfileChange struct {
	Name    *string
	Picture *string
}

// PictureProblem returns "" for an acceptable picture URL ("" included,
// which means none) and "invalid_picture" otherwise: it must be an
// absolute https URL with a host, no credentials and no fragment, at most
// MaxPictureLength bytes of clean text without spaces.
func PictureProblem(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > MaxPictureLength || !provider.CleanText(s) || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "invalid_picture"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "invalid_picture"
	}
	return ""
}
