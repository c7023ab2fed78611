package leadexecsim

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// received is one request as our webhook saw it.
type received struct {
	Method   string
	Header   http.Header
	Query    string
	Body     string
	Fields   map[string]string // parsed with net/http, encoding/json or encoding/xml
	ParseErr error
}

// webhook plays our receiver: it parses each request the way the real one
// would, records it, and answers with reply.
type webhook struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// replyFunc answers the n-th request (1-based) to the webhook.
type replyFunc func(n int, w http.ResponseWriter, r *http.Request)

// say answers every request with status and body.
func say(status int, body string) replyFunc {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func newWebhook(t *testing.T, reply replyFunc) *webhook {
	t.Helper()
	h := &webhook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{Method: r.Method, Header: r.Header.Clone(), Query: r.URL.RawQuery, Body: string(body)}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.Fields, rec.ParseErr = parseRequest(r)
		h.mu.Lock()
		h.reqs = append(h.reqs, rec)
		n := len(h.reqs)
		h.mu.Unlock()
		reply(n, w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *webhook) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.reqs...)
}

// parseRequest decodes the lead fields of r by its content type, as a
// receiver built on the standard library would.
func parseRequest(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	switch ct := r.Header.Get("Content-Type"); {
	case ct == "" || ct == ContentTypeForm:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, vs := range r.Form { // query and body pairs
			if len(vs) != 1 {
				return nil, fmt.Errorf("field %q sent %d times", k, len(vs))
			}
			out[k] = vs[0]
		}
	case ct == ContentTypeJSON:
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
			return nil, err
		}
	case ct == ContentTypeXML:
		var doc xmlLead
		if err := xml.NewDecoder(r.Body).Decode(&doc); err != nil {
			return nil, err
		}
		for _, f := range doc.Fields {
			out[f.XMLName.Local] = f.Value
		}
	default:
		return nil, fmt.Errorf("unexpected content type %q", ct)
	}
	return out, nil
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition not reached within 10s")
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func withUID(l Lead) map[string]string {
	m := maps.Clone(l.Fields)
	m["LeadUID"] = strconv.FormatInt(l.UID, 10)
	return m
}

func TestDeliverFormats(t *testing.T) {
	lead := trickyLead
	lead.Fields = maps.Clone(trickyLead.Fields)
	lead.Fields["Notes"] = "line one\nline two\ttab \"quoted\" a=b&c"
	tests := []struct {
		name            string
		d               Delivery
		wantMethod      string
		wantContentType string
		wantEmptyBody   bool
	}{
		{"form", Delivery{}, "POST", ContentTypeForm, false},
		{"query default POST", Delivery{Format: FormatQuery}, "POST", "", true},
		{"query GET", Delivery{Format: FormatQuery, Method: "get"}, "GET", "", true},
		{"json", Delivery{Format: FormatJSON}, "POST", ContentTypeJSON, false},
		{"json PUT", Delivery{Format: FormatJSON, Method: "PUT"}, "PUT", ContentTypeJSON, false},
		{"xml", Delivery{Format: FormatXML}, "POST", ContentTypeXML, false},
		{"xml PATCH", Delivery{Format: FormatXML, Method: "PATCH"}, "PATCH", ContentTypeXML, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newWebhook(t, say(200, `{"status":"success"}`))
			tt.d.URL = h.URL + "/leadexec"
			s := mustSender(t, tt.d)
			res := s.Deliver(context.Background(), lead)
			if !res.Delivered || res.Err != nil || res.Attempts != 1 || res.LastStatus != 200 {
				t.Fatalf("result = %+v, want delivered in 1 attempt", res)
			}
			reqs := h.requests()
			if len(reqs) != 1 {
				t.Fatalf("webhook got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.Method != tt.wantMethod {
				t.Errorf("method = %s, want %s", got.Method, tt.wantMethod)
			}
			if ct := got.Header.Get("Content-Type"); ct != tt.wantContentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantContentType)
			}
			if (got.Body == "") != tt.wantEmptyBody {
				t.Errorf("body = %q, want empty: %v", got.Body, tt.wantEmptyBody)
			}
			r, _ := s.Render(lead)
			if got.Body != string(r.Body) {
				t.Errorf("body = %q, want the rendered %q", got.Body, r.Body)
			}
			if got.ParseErr != nil {
				t.Fatalf("receiver could not parse the request: %v", got.ParseErr)
			}
			if want := withUID(lead); !maps.Equal(got.Fields, want) {
				t.Errorf("receiver parsed %v\nwant %v", got.Fields, want)
			}
			log := s.Log()
			if len(log) != 1 || log[0].PostString != r.PostString || !log[0].Delivered || log[0].Number != 1 {
				t.Errorf("log = %+v", log)
			}
		})
	}
}

func TestDeliverAuthAndHeaders(t *testing.T) {
	tests := []struct {
		name        string
		d           Delivery
		wantAuth    string
		wantHeaders map[string]string
	}{
		{"no auth", Delivery{}, "", nil},
		{"basic", Delivery{BasicUser: "buyer", BasicPassword: "p@ss:word"}, "Basic YnV5ZXI6cEBzczp3b3Jk", nil},
		{"basic empty password", Delivery{BasicUser: "buyer"}, "Basic YnV5ZXI6", nil},
		{"bearer", Delivery{BearerToken: "tok-123"}, "Bearer tok-123", nil},
		{"custom headers", Delivery{BearerToken: "t", Headers: map[string]string{"X-Api-Key": "k1", "X-Source": "leadexec"}},
			"Bearer t", map[string]string{"X-Api-Key": "k1", "X-Source": "leadexec"}},
		{"custom header overrides content type", Delivery{Format: FormatXML, Headers: map[string]string{"Content-Type": "text/xml"}},
			"", map[string]string{"Content-Type": "text/xml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newWebhook(t, say(200, "success"))
			tt.d.URL = h.URL
			res := mustSender(t, tt.d).Deliver(context.Background(), trickyLead)
			if !res.Delivered {
				t.Fatalf("result = %+v", res)
			}
			got := h.requests()[0].Header
			if a := got.Get("Authorization"); a != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", a, tt.wantAuth)
			}
			if tt.d.BasicUser != "" {
				r := &http.Request{Header: got}
				u, p, ok := r.BasicAuth()
				if !ok || u != tt.d.BasicUser || p != tt.d.BasicPassword {
					t.Errorf("BasicAuth() = %q, %q, %v", u, p, ok)
				}
			}
			for k, v := range tt.wantHeaders {
				if g := got.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

func TestDeliverResponseSearch(t *testing.T) {
	tests := []struct {
		name          string
		search        string
		regex         bool
		status        int
		body          string
		wantDelivered bool
		wantErr       error
		wantMatched   bool
	}{
		{"200 with default text", "", false, 200, "success", true, nil, true},
		{"200 text inside JSON", `"status":"success"`, false, 200, `{"id":"a1","status":"success"}`, true, nil, true},
		{"201 with text", "", false, 201, "lead accepted: success", true, nil, true},
		{"200 without text fails", "", false, 200, "accepted", false, ErrNoMatch, false},
		{"literal search is case-sensitive", "", false, 200, "SUCCESS", false, ErrNoMatch, false},
		{"204 empty body fails", "", false, 204, "", false, ErrNoMatch, false},
		{"500 with text fails (2xx required)", "", false, 500, "success", false, ErrHTTPStatus, true},
		{"404 fails", "", false, 404, "not found", false, ErrHTTPStatus, false},
		{"literal does not treat search as regexp", `succ.ss`, false, 200, "success", false, ErrNoMatch, false},
		{"regex matches spacing", `"status"\s*:\s*"(ok|success)"`, true, 200, `{"status": "ok"}`, true, nil, true},
		{"regex case-insensitive flag", `(?i)^accepted`, true, 200, "Accepted: 123", true, nil, true},
		{"regex anchored mismatch", `^success$`, true, 200, "no success here", false, ErrNoMatch, false},
		{"regex multiline body", `(?m)^result=ok$`, true, 200, "id=1\nresult=ok\n", true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newWebhook(t, say(tt.status, tt.body))
			s := mustSender(t, Delivery{URL: h.URL, ResponseSearch: tt.search, UseRegex: tt.regex})
			res := s.Deliver(context.Background(), trickyLead)
			if res.Delivered != tt.wantDelivered {
				t.Errorf("Delivered = %v, want %v (%+v)", res.Delivered, tt.wantDelivered, res)
			}
			if tt.wantErr == nil && res.Err != nil || tt.wantErr != nil && !errors.Is(res.Err, tt.wantErr) {
				t.Errorf("Err = %v, want %v", res.Err, tt.wantErr)
			}
			if res.LastStatus != tt.status || res.LastBody != tt.body {
				t.Errorf("last = %d %q, want %d %q", res.LastStatus, res.LastBody, tt.status, tt.body)
			}
			log := s.Log()
			if len(log) != 1 || log[0].Matched != tt.wantMatched || log[0].Delivered != tt.wantDelivered {
				t.Errorf("log = %+v, want matched %v", log, tt.wantMatched)
			}
			st := s.Stats()
			if want := (Stats{Sent: 1, Delivered: b2i(tt.wantDelivered), Failed: b2i(!tt.wantDelivered)}); st != want {
				t.Errorf("Stats = %+v, want %+v", st, want)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDeliverRetries(t *testing.T) {
	const delay = 20 * time.Millisecond
	failUntil := func(okFrom int) replyFunc { // fails requests before okFrom
		return func(n int, w http.ResponseWriter, _ *http.Request) {
			if okFrom > 0 && n >= okFrom {
				io.WriteString(w, "success")
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy")
		}
	}
	tests := []struct {
		name          string
		maxRetries    int
		reply         replyFunc
		wantRequests  int
		wantDelivered bool
		wantErr       error
	}{
		{"retries off: one attempt", 0, failUntil(0), 1, false, ErrHTTPStatus},
		{"exhausts max retries", 3, failUntil(0), 4, false, ErrHTTPStatus},
		{"succeeds on third attempt", 5, failUntil(3), 3, true, nil},
		{"success first: no retry", 5, failUntil(1), 1, true, nil},
		{"no match is retried", 2, say(200, "nope"), 3, false, ErrNoMatch},
		{"transport error is retried", 2, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				panic(http.ErrAbortHandler) // the connection drops without a response
			}
			io.WriteString(w, "success")
		}, 2, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newWebhook(t, tt.reply)
			s := mustSender(t, Delivery{URL: h.URL, MaxRetries: tt.maxRetries, RetryDelay: delay})
			res := s.Deliver(context.Background(), trickyLead)
			if got := len(h.requests()); got != tt.wantRequests {
				t.Errorf("webhook got %d requests, want %d", got, tt.wantRequests)
			}
			if res.Attempts != tt.wantRequests || res.Delivered != tt.wantDelivered {
				t.Errorf("result = %+v, want %d attempts, delivered %v", res, tt.wantRequests, tt.wantDelivered)
			}
			if tt.wantErr == nil && res.Err != nil || tt.wantErr != nil && !errors.Is(res.Err, tt.wantErr) {
				t.Errorf("Err = %v, want %v", res.Err, tt.wantErr)
			}
			log := s.Log()
			if len(log) != tt.wantRequests {
				t.Fatalf("log has %d attempts, want %d", len(log), tt.wantRequests)
			}
			for i, a := range log {
				if a.Number != i+1 || a.Send != 0 || a.LeadUID != trickyLead.UID {
					t.Errorf("log[%d] = %+v", i, a)
				}
				if i > 0 {
					if gap := a.Time.Sub(log[i-1].Time); gap < delay {
						t.Errorf("attempt %d started %v after the previous one, want >= %v", i+1, gap, delay)
					}
				}
			}
			want := Stats{Sent: tt.wantRequests, Retries: tt.wantRequests - 1,
				Delivered: b2i(tt.wantDelivered), Failed: b2i(!tt.wantDelivered)}
			if st := s.Stats(); st != want {
				t.Errorf("Stats = %+v, want %+v", st, want)
			}
		})
	}
}

func TestDeliverTransportErrorLogged(t *testing.T) {
	h := newWebhook(t, func(int, http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	s := mustSender(t, Delivery{URL: h.URL})
	res := s.Deliver(context.Background(), trickyLead)
	if res.Delivered || res.Err == nil || res.LastStatus != 0 {
		t.Fatalf("result = %+v", res)
	}
	log := s.Log()
	if len(log) != 1 || log[0].Error == "" || log[0].Status != 0 {
		t.Errorf("log = %+v, want one attempt with an error and no status", log)
	}
}

func TestDeliverAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	h := newWebhook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select { // hang until the sender gives up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before h.Close
	s := mustSender(t, Delivery{URL: h.URL, Timeout: 50 * time.Millisecond, MaxRetries: 1, RetryDelay: time.Millisecond})
	res := s.Deliver(context.Background(), trickyLead)
	if res.Delivered || res.Attempts != 2 || res.LastStatus != 0 {
		t.Fatalf("result = %+v, want 2 timed-out attempts", res)
	}
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", res.Err)
	}
}

func TestDeliverContextCancelStopsRetries(t *testing.T) {
	h := newWebhook(t, say(200, "rejected"))
	// An hour between retries: the test only ends promptly if cancel cuts the wait.
	s := mustSender(t, Delivery{URL: h.URL, MaxRetries: 5, RetryDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The first attempt is logged once its reply is read, just before
		// the retry wait starts.
		waitFor(t, func() bool { return len(s.Log()) == 1 })
		cancel()
	}()
	res := s.Deliver(ctx, trickyLead)
	if res.Attempts != 1 || res.Delivered {
		t.Errorf("result = %+v, want 1 attempt", res)
	}
	if !errors.Is(res.Err, context.Canceled) || !errors.Is(res.Err, ErrNoMatch) {
		t.Errorf("Err = %v, want Canceled wrapping the last attempt's ErrNoMatch", res.Err)
	}
	if got := len(h.requests()); got != 1 {
		t.Errorf("webhook got %d requests, want 1", got)
	}
	if st := s.Stats(); st.Failed != 1 || st.Retries != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestDeliverContextAlreadyDone(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	s := mustSender(t, Delivery{URL: h.URL})
	s.Duplicate(trickyLead.UID, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := s.Deliver(ctx, trickyLead)
	if res.Attempts != 0 || res.Delivered || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("result = %+v, want no attempt and Canceled", res)
	}
	if got := len(h.requests()); got != 0 {
		t.Errorf("webhook got %d requests, want 0", got)
	}
}

func TestDeliverLongResponse(t *testing.T) {
	body := strings.Repeat("é", 3000) + " success" // 6 KiB: the token lies past the logged part
	h := newWebhook(t, say(200, body))
	s := mustSender(t, Delivery{URL: h.URL})
	res := s.Deliver(context.Background(), trickyLead)
	if !res.Delivered {
		t.Fatalf("result = %+v, want the search to cover the whole body", res.Err)
	}
	if len(res.LastBody) != MaxLoggedBody || res.LastBody != body[:MaxLoggedBody] {
		t.Errorf("LastBody has %d bytes, want the first %d", len(res.LastBody), MaxLoggedBody)
	}
	if a := s.Log()[0]; a.Body != res.LastBody {
		t.Errorf("log body differs from LastBody")
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is 2 bytes: cut before it
		{"a€b", 3, "a"},
		{"a€b", 4, "a€"},
	}
	for _, tt := range tests {
		if got := truncate([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestDeliverRenderError(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	s := mustSender(t, Delivery{URL: h.URL, Format: FormatXML})
	res := s.Deliver(context.Background(), Lead{UID: 1, Fields: map[string]string{"bad name": "x"}})
	if !errors.Is(res.Err, ErrRender) || res.Attempts != 0 {
		t.Errorf("result = %+v, want ErrRender and no attempt", res)
	}
	if len(h.requests()) != 0 || len(s.Log()) != 0 || s.Stats() != (Stats{Failed: 1}) {
		t.Errorf("requests %d, log %v, stats %+v", len(h.requests()), s.Log(), s.Stats())
	}
}

func TestDeliverErrorsHideSecrets(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	url := h.URL + "/hook?key=SECRETKEY"
	h.Close() // connection refused from now on
	s := mustSender(t, Delivery{URL: url, Format: FormatQuery, BearerToken: "SECRETTOKEN"})
	res := s.Deliver(context.Background(), Lead{UID: 1, Fields: map[string]string{"Email": "private@example.com"}})
	if res.Err == nil {
		t.Fatal("want a transport error")
	}
	texts := []string{res.Err.Error(), s.Log()[0].Error}
	for _, text := range texts {
		for _, secret := range []string{"SECRETKEY", "SECRETTOKEN", "private"} {
			if strings.Contains(text, secret) {
				t.Errorf("error %q leaks %s", text, secret)
			}
		}
	}
}

func TestDeliverUsesInjectedClock(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ticks atomic.Int64
	now := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Second) }
	s := mustSender(t, Delivery{URL: h.URL, Now: now})
	s.Deliver(context.Background(), trickyLead)
	a := s.Log()[0]
	if a.Time != start.Add(time.Second) || a.Duration != time.Second {
		t.Errorf("Time = %v, Duration = %v; want the injected clock", a.Time, a.Duration)
	}
}

func TestDropNext(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	s := mustSender(t, Delivery{URL: h.URL})
	uid := trickyLead.UID
	s.DropNext(uid)

	res := s.Deliver(context.Background(), trickyLead)
	if res.Delivered || res.Attempts != 0 || !errors.Is(res.Err, ErrDropped) {
		t.Errorf("dropped result = %+v", res)
	}
	if n := len(h.requests()); n != 0 {
		t.Fatalf("webhook got %d requests, want 0", n)
	}
	log := s.Log()
	if len(log) != 1 || !log[0].Dropped || log[0].LeadUID != uid || log[0].Number != 0 {
		t.Errorf("log = %+v, want one dropped entry", log)
	}

	// Only the next Deliver is dropped, and only for that lead.
	other := Lead{UID: uid + 1}
	if res := s.Deliver(context.Background(), other); !res.Delivered {
		t.Errorf("other lead: %+v", res)
	}
	if res := s.Deliver(context.Background(), trickyLead); !res.Delivered || res.Attempts != 1 {
		t.Errorf("second deliver: %+v", res)
	}
	if n := len(h.requests()); n != 2 {
		t.Errorf("webhook got %d requests, want 2", n)
	}
	if st := s.Stats(); st != (Stats{Sent: 2, Delivered: 2, Dropped: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestDuplicate(t *testing.T) {
	tests := []struct {
		name          string
		drop          bool
		dups          []int // Duplicate calls before the Deliver
		reply         replyFunc
		wantRequests  int
		wantDelivered bool
		wantStats     Stats
	}{
		{"resent after success", false, []int{2}, say(200, "success"), 3, true,
			Stats{Sent: 3, Delivered: 3, Duplicates: 2}},
		{"calls accumulate", false, []int{1, 1}, say(200, "success"), 3, true,
			Stats{Sent: 3, Delivered: 3, Duplicates: 2}},
		{"zero is a no-op", false, []int{0, -1}, say(200, "success"), 1, true,
			Stats{Sent: 1, Delivered: 1}},
		{"resend after a failed send succeeds", false, []int{1}, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.WriteHeader(500)
				return
			}
			io.WriteString(w, "success")
		}, 2, true, Stats{Sent: 2, Delivered: 1, Failed: 1, Duplicates: 1}},
		{"dropped then resent", true, []int{1}, say(200, "success"), 1, true,
			Stats{Sent: 1, Delivered: 1, Dropped: 1, Duplicates: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newWebhook(t, tt.reply)
			s := mustSender(t, Delivery{URL: h.URL})
			if tt.drop {
				s.DropNext(trickyLead.UID)
			}
			for _, n := range tt.dups {
				s.Duplicate(trickyLead.UID, n)
			}
			res := s.Deliver(context.Background(), trickyLead)
			reqs := h.requests()
			if len(reqs) != tt.wantRequests || res.Attempts != tt.wantRequests || res.Delivered != tt.wantDelivered {
				t.Errorf("webhook got %d requests; result %+v; want %d, delivered %v",
					len(reqs), res, tt.wantRequests, tt.wantDelivered)
			}
			if tt.wantDelivered && res.Err != nil {
				t.Errorf("Err = %v, want nil once any send succeeded", res.Err)
			}
			for _, r := range reqs[1:] {
				if r.Body != reqs[0].Body {
					t.Errorf("resend body %q differs from %q", r.Body, reqs[0].Body)
				}
			}
			if st := s.Stats(); st != tt.wantStats {
				t.Errorf("Stats = %+v, want %+v", st, tt.wantStats)
			}
			for i, a := range s.Log() {
				if want := i; a.Send != want {
					t.Errorf("log[%d].Send = %d, want %d", i, a.Send, want)
				}
			}
			// Consumed: the next Deliver sends once.
			before := len(h.requests())
			s.Deliver(context.Background(), trickyLead)
			if got := len(h.requests()) - before; got != 1 {
				t.Errorf("next Deliver sent %d requests, want 1", got)
			}
		})
	}
}

func TestDeliverAll(t *testing.T) {
	tests := []struct {
		name        string
		leads       int
		concurrency int
		wantMax     int
	}{
		{"bounded", 25, 4, 4},
		{"one at a time", 6, 1, 1},
		{"zero means one", 6, 0, 1},
		{"more workers than leads", 3, 10, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inFlight, maxInFlight atomic.Int64
			arrived := make(chan struct{}, tt.leads)
			gate := make(chan struct{})
			h := newWebhook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				cur := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := maxInFlight.Load(); cur > m && !maxInFlight.CompareAndSwap(m, cur); m = maxInFlight.Load() {
				}
				arrived <- struct{}{}
				<-gate
				// Echo the id so each result can be matched to its lead.
				fmt.Fprintf(w, "success %s", r.PostFormValue("LeadUID"))
			})
			s := mustSender(t, Delivery{URL: h.URL})
			leads := GenerateLeads(tt.leads, 7, nil)

			done := make(chan []Result)
			go func() { done <- s.DeliverAll(context.Background(), leads, tt.concurrency) }()
			// Hold every request until the pool is full, so a pool that
			// ignored the bound would show more requests in flight.
			for range tt.wantMax {
				<-arrived
			}
			close(gate)
			results := <-done

			if got := maxInFlight.Load(); got != int64(tt.wantMax) {
				t.Errorf("max in flight = %d, want %d", got, tt.wantMax)
			}
			if len(results) != len(leads) {
				t.Fatalf("%d results for %d leads", len(results), len(leads))
			}
			for i, r := range results {
				want := fmt.Sprintf("success %d", leads[i].UID)
				if r.LeadUID != leads[i].UID || !r.Delivered || r.LastBody != want {
					t.Errorf("results[%d] = %+v, want lead %d delivered", i, r, leads[i].UID)
				}
			}
			if got := len(h.requests()); got != tt.leads {
				t.Errorf("webhook got %d requests, want %d", got, tt.leads)
			}
		})
	}
}

func TestDeliverAllEmpty(t *testing.T) {
	s := mustSender(t, Delivery{URL: "http://127.0.0.1:1/"})
	if got := s.DeliverAll(context.Background(), nil, 4); len(got) != 0 {
		t.Errorf("got %d results", len(got))
	}
}

func TestDeliverAllCanceled(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	s := mustSender(t, Delivery{URL: h.URL})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	leads := GenerateLeads(5, 1, nil)
	for i, r := range s.DeliverAll(ctx, leads, 2) {
		if r.LeadUID != leads[i].UID || !errors.Is(r.Err, context.Canceled) || r.Attempts != 0 {
			t.Errorf("results[%d] = %+v", i, r)
		}
	}
	if n := len(h.requests()); n != 0 {
		t.Errorf("webhook got %d requests", n)
	}
}

func TestSenderConcurrentUse(t *testing.T) {
	h := newWebhook(t, say(200, "success"))
	s := mustSender(t, Delivery{URL: h.URL, Format: FormatJSON})
	leads := GenerateLeads(40, 3, []string{"Comments"})
	var wg sync.WaitGroup
	for i, l := range leads {
		wg.Go(func() {
			if i%5 == 0 {
				s.Duplicate(l.UID, 1)
			}
			s.Deliver(context.Background(), l)
			_ = s.Log()
			_ = s.Stats()
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Delivered != 48 || st.Sent != 48 || st.Duplicates != 8 {
		t.Errorf("Stats = %+v", st)
	}
	if got := len(h.requests()); got != 48 {
		t.Errorf("webhook got %d requests, want 48", got)
	}
}
