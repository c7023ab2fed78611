// Package errtext makes the text of vendor API client errors from what
// net/http and a vendor hand back: the start of an answer body and the
// message of a failed request, without the request URL (which may carry a
// secret). It is shared by the clients under vendors/.
package errtext

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Snippet is the start of an answer for an error message: trimmed, in
// UTF-8 whatever the answer's bytes (invalid ones become U+FFFD), passed
// through clean when it is not nil (before it is cut, so that no part of a
// secret is left), then cut to at most max bytes at a rune boundary with
// "…" appended.
func Snippet(b []byte, max int, clean func(string) string) string {
	s := strings.ToValidUTF8(strings.TrimSpace(string(b)), "\uFFFD")
	if clean != nil {
		s = clean(s)
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Transport is the message of a failed request without the request URL:
// the cause inside a *url.Error, prefixed "timeout: " when it is a network
// timeout.
func Transport(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		msg = "timeout: " + msg
	}
	return msg
}
