package leadexecsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Sender plays LeadExec delivering leads to one buyer delivery method. It
// renders each lead, sends it, searches the reply, retries failed sends,
// and keeps a send log and counters for assertions.
//
// A Sender is safe for concurrent use. Its log grows with every attempt and
// is never trimmed, which suits tests and demos, not long-running use.
type Sender struct {
	d  Delivery // defaults applied; read-only
	u  *url.URL // parsed d.URL; read-only
	re *regexp.Regexp

	mu    sync.Mutex
	log   []Attempt
	stats Stats
	drops map[int64]int // pending DropNext calls per lead
	dups  map[int64]int // pending extra sends per lead
}

// NewSender applies defaults to d, validates it and returns a Sender. It
// fails with an error wrapping [ErrInvalidDelivery] that lists every problem
// (bad URL, unknown format or method, bad regexp, conflicting auth, invalid
// header or XML names, negative durations or retry count).
func NewSender(d Delivery) (*Sender, error) {
	d = d.withDefaults()
	u, re, err := d.validate()
	if err != nil {
		return nil, err
	}
	return &Sender{
		d:     d,
		u:     u,
		re:    re,
		drops: make(map[int64]int),
		dups:  make(map[int64]int),
	}, nil
}

// Delivery returns the sender's configuration with defaults applied. Maps and
// the client are shared with the sender and must not be modified.
func (s *Sender) Delivery() Delivery { return s.d }

// Result is the outcome of one [Sender.Deliver] call.
type Result struct {
	LeadUID int64
	// Delivered is true when at least one send of the lead (the primary send
	// or a duplicate) got a 2xx reply containing the response search.
	Delivered bool
	// Attempts counts HTTP requests made for this call, including retries
	// and duplicate sends; a dropped send makes none.
	Attempts int
	// LastStatus is the HTTP status of the last attempt, 0 if it got none.
	LastStatus int
	// LastBody is the last attempt's response body, truncated to
	// [MaxLoggedBody] bytes.
	LastBody string
	// Err is nil when Delivered. Otherwise it is the failure of the last send,
	// wrapping [ErrHTTPStatus], [ErrNoMatch], [ErrDropped], [ErrRender], a
	// transport error (e.g. [context.DeadlineExceeded] for an attempt
	// timeout) or, when ctx ended the delivery, ctx.Err().
	Err error
}

// Attempt is one entry of the send log: an HTTP request LeadExec made, or a
// send skipped by [Sender.DropNext].
type Attempt struct {
	LeadUID int64
	// Send is 0 for the primary send of a Deliver call and 1…n for the
	// duplicate sends requested with [Sender.Duplicate].
	Send int
	// Number is the 1-based attempt within the send (1 = first try, 2 = first
	// retry, …); 0 for a dropped send.
	Number int
	// Time is when the attempt started, from [Delivery.Now].
	Time time.Time
	// Duration is how long the attempt took, from [Delivery.Now].
	Duration time.Duration
	// PostString is what was sent: the body, or the query for [FormatQuery].
	PostString string
	// Status is the HTTP status code, 0 when no response arrived.
	Status int
	// Body is the response body truncated to [MaxLoggedBody] bytes.
	Body string
	// Error is the transport error text, without the URL; empty when a
	// response was read in full.
	Error string
	// Matched reports whether the response search was found in the body,
	// whatever the status.
	Matched bool
	// Delivered reports whether the attempt counted as a success: a 2xx
	// status and Matched.
	Delivered bool
	// Dropped marks a send skipped by [Sender.DropNext]; nothing was sent.
	Dropped bool
}

// Stats are a Sender's counters since it was created. A send is the primary
// send of a Deliver call or one duplicate send; each ends as exactly one of
// Delivered, Failed or Dropped.
type Stats struct {
	Sent       int // HTTP requests made, including retries and duplicates
	Delivered  int // sends that ended with a successful attempt
	Failed     int // sends that ended without one (retries exhausted, ctx done, render error)
	Retries    int // attempts after the first within a send
	Dropped    int // sends skipped by DropNext
	Duplicates int // extra sends started because of Duplicate
}

// Log returns a copy of the send log in the order attempts finished.
func (s *Sender) Log() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.log...)
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Deliver sends l to the delivery URL as LeadExec would: it renders the lead,
// sends it, and counts the send delivered only when the reply has a 2xx
// status and its body contains ResponseSearch. A failed attempt (transport
// error, timeout, non-2xx status or no match) is retried up to MaxRetries
// times, RetryDelay apart; each attempt is bounded by Timeout. Every attempt
// is appended to [Sender.Log].
//
// Pending fault hooks for l.UID apply: [Sender.DropNext] skips the primary
// send, and [Sender.Duplicate] makes extra sends, one after another, after
// the primary send whatever its outcome; each extra send has its own
// retries.
//
// ctx bounds the whole call, including retry waits: when it is done Deliver
// returns without further attempts or sends, with Err wrapping ctx.Err().
func (s *Sender) Deliver(ctx context.Context, l Lead) Result {
	res := Result{LeadUID: l.UID}
	r, err := s.Render(l)
	if err != nil {
		s.mu.Lock()
		s.stats.Failed++
		s.mu.Unlock()
		res.Err = err
		return res
	}

	s.mu.Lock()
	drop := s.drops[l.UID] > 0
	if drop {
		if s.drops[l.UID]--; s.drops[l.UID] == 0 {
			delete(s.drops, l.UID)
		}
	}
	extra := s.dups[l.UID]
	delete(s.dups, l.UID)
	s.mu.Unlock()

	for send := 0; send <= extra; send++ {
		if send > 0 {
			if err := ctx.Err(); err != nil {
				break // the sends not started are abandoned, not failed
			}
			s.mu.Lock()
			s.stats.Duplicates++
			s.mu.Unlock()
		}
		if send == 0 && drop {
			s.record(Attempt{LeadUID: l.UID, Time: s.d.Now(), PostString: r.PostString, Dropped: true}, func(st *Stats) { st.Dropped++ })
			if !res.Delivered {
				res.Err = ErrDropped
			}
			continue
		}
		err := s.send(ctx, l.UID, send, r, &res)
		if err == nil {
			res.Delivered = true
			res.Err = nil
		} else if !res.Delivered {
			res.Err = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

// send performs one send with its retries and updates res. It returns nil on
// success, else the error of the last attempt (joined with ctx.Err() when ctx
// ended the send).
func (s *Sender) send(ctx context.Context, uid int64, send int, r Rendered, res *Result) error {
	var last error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			s.count(func(st *Stats) { st.Failed++ })
			if last == nil {
				return err
			}
			return fmt.Errorf("%w; last attempt: %w", err, last)
		}
		a, err := s.attempt(ctx, uid, send, n, r)
		s.record(a, func(st *Stats) {
			st.Sent++
			if n > 1 {
				st.Retries++
			}
		})
		res.Attempts++
		res.LastStatus = a.Status
		res.LastBody = a.Body
		if err == nil {
			s.count(func(st *Stats) { st.Delivered++ })
			return nil
		}
		last = err
		if n > s.d.MaxRetries {
			s.count(func(st *Stats) { st.Failed++ })
			return err
		}
		if err := wait(ctx, s.d.RetryDelay); err != nil {
			s.count(func(st *Stats) { st.Failed++ })
			return fmt.Errorf("%w; last attempt: %w", err, last)
		}
	}
}

// attempt makes one HTTP request and classifies the reply.
func (s *Sender) attempt(ctx context.Context, uid int64, send, n int, r Rendered) (a Attempt, err error) {
	a = Attempt{LeadUID: uid, Send: send, Number: n, Time: s.d.Now(), PostString: r.PostString}
	defer func() { a.Duration = s.d.Now().Sub(a.Time) }()

	actx, cancel := context.WithTimeout(ctx, s.d.Timeout)
	defer cancel()

	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, body)
	if err != nil {
		err = fmt.Errorf("leadexecsim: build request: %w", stripURL(err))
		a.Error = err.Error()
		return a, err
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	switch {
	case s.d.BasicUser != "":
		req.SetBasicAuth(s.d.BasicUser, s.d.BasicPassword)
	case s.d.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.d.BearerToken)
	}
	for k, v := range s.d.Headers {
		req.Header.Set(k, v)
	}

	resp, err := s.d.Client.Do(req)
	if err != nil {
		err = fmt.Errorf("leadexecsim: send: %w", stripURL(err))
		a.Error = err.Error()
		return a, err
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxSearchedBody))
	a.Body = truncate(raw, MaxLoggedBody)
	if err != nil {
		err = fmt.Errorf("leadexecsim: read response: %w", err)
		a.Error = err.Error()
		return a, err
	}
	// Drain a little more so the connection can be reused; give up on
	// oversized bodies rather than read them.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)

	if s.re != nil {
		a.Matched = s.re.Match(raw)
	} else {
		a.Matched = bytes.Contains(raw, []byte(s.d.ResponseSearch))
	}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return a, fmt.Errorf("%w: HTTP %d", ErrHTTPStatus, resp.StatusCode)
	case !a.Matched:
		return a, fmt.Errorf("%w: HTTP %d", ErrNoMatch, resp.StatusCode)
	}
	a.Delivered = true
	return a, nil
}

// record appends a to the log and updates the counters under one lock.
func (s *Sender) record(a Attempt, update func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, a)
	update(&s.stats)
}

func (s *Sender) count(update func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(&s.stats)
}

// DeliverAll delivers leads with at most concurrency Deliver calls in flight
// (values below 1 mean 1) and returns one Result per lead, in input order.
// When ctx is done the leads not yet delivered get a Result whose Err wraps
// ctx.Err(). It returns after every worker has finished.
func (s *Sender) DeliverAll(ctx context.Context, leads []Lead, concurrency int) []Result {
	results := make([]Result, len(leads))
	workers := min(max(concurrency, 1), len(leads))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				results[i] = s.Deliver(ctx, leads[i])
			}
		})
	}
	for i := range leads {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// wait blocks for d or until ctx is done, returning ctx.Err() in that case.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stripURL removes the URL from a *url.Error: with FormatQuery it holds lead
// data, and the delivery URL itself may carry a key.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// truncate returns b as a string of at most n bytes, cut on a rune boundary.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[:n]
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return string(b)
}
