package sharpspringsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// t0 is the default test time: 2026-03-10 12:00:00.25 UTC (EDT is UTC-4).
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 250_000_000, time.UTC)

type harness struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *simtest.Clock
}

// newHarness starts a simulator on a real HTTP server with a fake clock at
// t0. Unless the test sets RateLimitPerSecond, the per-second limit is off
// so that many calls under a frozen clock do not trip 107.
func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := simtest.NewClock(t0)
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.RateLimitPerSecond == 0 {
		opts.RateLimitPerSecond = -1
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases hung handlers
	return &harness{t: t, sim: sim, srv: srv, clock: clock}
}

func (h *harness) url(version string) string {
	return h.urlWith(version, DefaultAccountID, DefaultSecretKey)
}

func (h *harness) urlWith(version, account, secret string) string {
	q := url.Values{}
	if account != "" {
		q.Set("accountID", account)
	}
	if secret != "" {
		q.Set("secretKey", secret)
	}
	return h.srv.URL + "/pubapi/" + version + "/?" + q.Encode()
}

// resp is an HTTP answer with its envelope decoded.
type resp struct {
	simtest.Answer
	env map[string]json.RawMessage
}

func (r resp) member(name string) json.RawMessage { return r.env[name] }

// errCode is the code of an API-level error object, or 0.
func (r resp) errCode() int {
	var e struct{ Code int }
	raw := bytes.TrimSpace(r.env["error"])
	if len(raw) == 0 || raw[0] != '{' {
		return 0
	}
	_ = json.Unmarshal(raw, &e)
	return e.Code
}

type wireError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type wireResult struct {
	Success bool            `json:"success"`
	Error   *wireError      `json:"error"`
	ID      json.RawMessage `json:"id"`
}

// results decodes result.<key> of a write answer.
func (r resp) results(key string) []wireResult {
	var res map[string][]wireResult
	if err := json.Unmarshal(r.env["result"], &res); err != nil {
		panic("results: " + err.Error() + ": " + string(r.Body))
	}
	return res[key]
}

// objects decodes result.<key> of a read answer, values as any.
func (r resp) objects(key string) []map[string]any {
	var res map[string][]map[string]any
	if err := json.Unmarshal(r.env["result"], &res); err != nil {
		panic("objects: " + err.Error() + ": " + string(r.Body))
	}
	return res[key]
}

func (h *harness) post(ctx context.Context, target string, body []byte, header http.Header) (resp, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return resp{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	a, err := simtest.Do(h.srv.Client(), req)
	if err != nil {
		return resp{}, err
	}
	r := resp{Answer: a}
	_ = json.Unmarshal(a.Body, &r.env)
	return r, nil
}

func envelopeBody(method string, params any) []byte {
	b, err := json.Marshal(map[string]any{"method": method, "params": params, "id": "req-1"})
	if err != nil {
		panic(err)
	}
	return b
}

// callV calls method on the given version and fails the test on transport
// errors.
// heldCreate posts one createLeads that the simulator holds without an
// answer (a timeout fault) until the client gives up after 100 ms, and
// returns the request's log entry once the simulator logged it.
func (h *harness) heldCreate() LoggedRequest {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := h.post(ctx, h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": "t@x.test"})), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		h.t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The handler returns once it sees the client leave.
	simtest.Eventually(h.t, "the hung request to be logged", func() bool { return len(h.sim.RequestLog()) == 1 })
	return h.sim.RequestLog()[0]
}

func (h *harness) callV(version, method string, params any) resp {
	h.t.Helper()
	r, err := h.post(context.Background(), h.url(version), envelopeBody(method, params), nil)
	if err != nil {
		h.t.Fatalf("%s: %v", method, err)
	}
	return r
}

func (h *harness) call(method string, params any) resp {
	h.t.Helper()
	return h.callV(VersionV12, method, params)
}

// objs wraps write objects as params.
func objs(o ...map[string]any) map[string]any {
	list := make([]any, len(o))
	for i, x := range o {
		list[i] = x
	}
	return map[string]any{"objects": list}
}

// mustCreate creates leads and returns their ids.
func (h *harness) mustCreate(o ...map[string]any) []int64 {
	h.t.Helper()
	r := h.call("createLeads", objs(o...))
	var ids []int64
	for i, res := range r.results("creates") {
		if !res.Success {
			h.t.Fatalf("createLeads[%d] failed: %s", i, r.Body)
		}
		var id int64
		if err := json.Unmarshal(res.ID, &id); err != nil {
			h.t.Fatalf("createLeads[%d] id %s is not a JSON number", i, res.ID)
		}
		ids = append(ids, id)
	}
	return ids
}

// getLead fetches one lead over v1.2; nil when absent.
func (h *harness) getLead(id int64) map[string]any {
	h.t.Helper()
	list := h.call("getLead", map[string]any{"id": id}).objects("lead")
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

// keyOrder returns the keys of a JSON object in wire order.
func keyOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func ids(list []map[string]any) []string {
	var out []string
	for _, l := range list {
		id, _ := l["id"].(string)
		out = append(out, id)
	}
	return out
}
