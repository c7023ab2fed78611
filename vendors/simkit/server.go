package simkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Content types the simulators answer with.
const (
	ContentJSON = "application/json"
	ContentHTML = "text/html; charset=UTF-8"
)

// HTMLNotice is the page a proxy in front of an API might send instead of
// JSON; the simulators answer it for a malformed-HTML fault.
const HTMLNotice = `<!DOCTYPE html>
<html><head><title>Service notice</title></head>
<body><h1>We'll be right back</h1><p>The service is being updated. Please try again shortly.</p></body></html>
`

// Reply writes an answer: the Content-Type header (none when contentType
// is ""), the status and the body.
func Reply(w http.ResponseWriter, status int, contentType string, body []byte) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// HangUp closes the request's connection without an answer, as a server
// or proxy crash would. Where the connection cannot be taken over (HTTP/2)
// it aborts the handler, which makes the server reset the stream.
func HangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// Abandon ends a request that gets no answer (held until the client gave
// up, a cap passed or Close): unless the client has already gone, its
// connection is closed with HangUp.
func Abandon(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() == nil {
		HangUp(w)
	}
}

// ReadBody reads the request body, at most limit bytes. It reports false
// when the body could not be read: after calling tooLarge, which answers
// HTTP 413 as the vendor does, for a body over limit, and without an
// answer when the client went away.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, tooLarge func()) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			tooLarge()
		}
		return nil, false
	}
	return body, true
}

// Admit delays a request as d says and counts its fault (Delay). It
// reports false when the request ended first (the client gave up, or
// Close): then logged records the request, which is abandoned (Abandon),
// and the handler must stop without applying anything.
func (in *Injector[F]) Admit(w http.ResponseWriter, r *http.Request, d Decision[F], logged func()) bool {
	if in.Delay(r.Context(), d) {
		return true
	}
	logged()
	Abandon(w, r)
	return false
}

// Unanswered holds a request without an answer for d.Hold, until the
// client gives up or Close, then has logged record it and abandons it
// (Abandon): a timeout as the client sees it.
func (in *Injector[F]) Unanswered(w http.ResponseWriter, r *http.Request, d Decision[F], logged func()) {
	in.Wait(r.Context(), d.Hold)
	logged()
	Abandon(w, r)
}

// MaxLog is how many entries a Log keeps.
const MaxLog = 100000

// Log is a request log that keeps the last MaxLog entries, oldest first.
// The zero value is empty and ready; it is not safe for concurrent use.
type Log[T any] struct {
	entries []T
}

// Add appends e, dropping the oldest entry when the log is full.
func (l *Log[T]) Add(e T) {
	if len(l.entries) >= MaxLog {
		l.entries = append(l.entries[:0], l.entries[len(l.entries)-MaxLog+1:]...)
	}
	l.entries = append(l.entries, e)
}

// Entries returns a copy of the entries, oldest first.
func (l *Log[T]) Entries() []T { return append([]T(nil), l.entries...) }

// Reset empties the log.
func (l *Log[T]) Reset() { l.entries = nil }

// ResetStats starts a simulator's counts afresh with mu, the simulator's
// lock, held: reset zeroes the simulator's own counters, then log is
// emptied and the fault counts of in are zeroed (its scripts, policy and
// bursts are kept).
func ResetStats[F Fault, T any](mu sync.Locker, reset func(), log *Log[T], in *Injector[F]) {
	mu.Lock()
	defer mu.Unlock()
	reset()
	log.Reset()
	in.ResetCounts()
}

// Serve runs h on addr (default a free loopback port) until stop, and
// returns its base URL ("http://host:port"). stop shuts the server down
// gracefully, waiting at most 5 seconds for requests in flight.
func Serve(h http.Handler, addr string) (baseURL string, stop func(), err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("simulator server", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
