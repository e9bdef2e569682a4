package templates

import (
	"strconv"
	"strings"
)

// The sessions list of the account page (issue 12): grouped by device,
// collapsed after sessionsShown sessions.

// sessionsShown is how many sessions the list shows before the rest
// collapse under "Show N more".
const sessionsShown = 10

// sessionGroup is the sessions of one device, newest first.
type sessionGroup struct {
	Title    string
	Sessions []AccountSession
}

// groupSessions groups list (newest first) by device: the device id when
// the app named one, else the device's name as the page shows it. Groups
// keep the order of their newest session. The first sessionsShown
// sessions are in shown; the rest, grouped the same way, in more.
func groupSessions(lang string, list []AccountSession) (shown, more []sessionGroup) {
	var order []string
	groups := map[string]*sessionGroup{}
	for _, s := range list {
		title := sessionTitle(lang, s)
		key := "name:" + title
		if s.DeviceID != "" {
			key = "id:" + s.DeviceID
		}
		g, ok := groups[key]
		if !ok {
			g = &sessionGroup{Title: title}
			groups[key] = g
			order = append(order, key)
		}
		g.Sessions = append(g.Sessions, s)
	}
	n := 0
	for _, key := range order {
		g := groups[key]
		if room := sessionsShown - n; room > 0 {
			head := g.Sessions[:min(room, len(g.Sessions))]
			shown = append(shown, sessionGroup{Title: g.Title, Sessions: head})
			n += len(head)
			if len(head) == len(g.Sessions) {
				continue
			}
			g = &sessionGroup{Title: g.Title, Sessions: g.Sessions[len(head):]}
		}
		more = append(more, *g)
	}
	return shown, more
}

// sessionCount is the number of sessions in groups.
func sessionCount(groups []sessionGroup) int {
	n := 0
	for _, g := range groups {
		n += len(g.Sessions)
	}
	return n
}

// sessionsMore is the label of the collapsed rest: "Show 3 more".
func sessionsMore(lang string, n int) string {
	return strings.Replace(T(lang, "account.sessions.more"), "{n}", strconv.Itoa(n), 1)
}

// groupCount is the "3 sessions" after a device's name.
func groupCount(lang string, n int) string {
	return strings.Replace(T(lang, "account.sessions.count"), "{n}", strconv.Itoa(n), 1)
}

// placeholderDevices are device names apps send when they know nothing
// better; the user agent says more, so the page shows that instead.
var placeholderDevices = map[string]bool{
	"unknown device": true, "unknown": true, "unbekanntes gerät": true, "unbekannt": true,
	"device": true, "browser": true, "web": true, "web browser": true, "n/a": true,
}

// deviceName is the app-supplied device name unless it is empty or a
// placeholder.
func deviceName(name string) string {
	name = strings.TrimSpace(name)
	if placeholderDevices[strings.ToLower(name)] {
		return ""
	}
	return name
}
