package errtext

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSnippetCutsAtARuneBoundaryAfterCleaning(t *testing.T) {
	upper := func(s string) string { return strings.ReplaceAll(s, "secret", "[X]") }
	for _, tc := range []struct {
		name  string
		in    string
		max   int
		clean func(string) string
		want  string
	}{
		{"short", "  ok \n", 10, nil, "ok"},
		{"cut", "abcdef", 3, nil, "abc…"},
		{"inside a rune", "aé", 2, nil, "a…"},
		{"invalid bytes", "a\xffb", 10, nil, "a\uFFFDb"},
		{"cleaned before the cut", "secret-secret", 5, upper, "[X]-[…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Snippet([]byte(tc.in), tc.max, tc.clean); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTransportDropsTheURLAndMarksTimeouts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	c := &http.Client{Timeout: time.Millisecond}
	_, err := c.Get(srv.URL + "/path?secretKey=abc")
	if err == nil {
		t.Fatal("no error")
	}
	msg := Transport(err)
	if strings.Contains(msg, "secretKey") || !strings.HasPrefix(msg, "timeout: ") {
		t.Errorf("got %q", msg)
	}
	if got := Transport(context.Canceled); got != "context canceled" {
		t.Errorf("plain error: %q", got)
	}
	if got := Transport(errors.New("x")); got != "x" {
		t.Errorf("got %q", got)
	}
}
