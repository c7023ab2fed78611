package acme

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// SimOptions configure a Simulator. The zero value of each field means its
// default.
type SimOptions struct {
	// APIKey is the key requests must carry in the X-Api-Key header;
	// default DefaultSimKey.
	APIKey string
	// Now is the clock of created_at, updated_at and the rate window;
	// default time.Now. It must be safe for concurrent use.
	Now func() time.Time
	// RatePerSecond, when positive, is how many authenticated requests
	// Acme answers in any sliding second; the rest get 429 with
	// Retry-After: 1.
	RatePerSecond int
}

// DefaultSimKey is the simulator's API key when SimOptions.APIKey is empty.
const DefaultSimKey = "acme_sim_key"

// Simulator is an in-memory Acme CRM lead API over HTTP: the batch upsert,
// the keyset-paged change list and the read-back by ids or emails, with
// injected faults and request counters. It is an http.Handler; every
// method is safe for concurrent use.
//
// Every change is stamped with an updated_at later than that of any
// earlier change of the account (the clock, or one nanosecond after the
// last stamp when the clock has not moved), so the list's order by
// (updated_at, id) is the order of changes and a keyset cursor never
// passes a lead that changes afterwards.
type Simulator struct {
	key    string
	now    func() time.Time
	faults *simkit.Injector[Fault]

	mu      sync.Mutex // guards everything below
	leads   map[int64]*StoredLead
	byEmail map[string]int64 // lower-cased email → id
	seq     int64
	last    time.Time // the latest updated_at given
	window  simkit.Window
	stats   simStats
}

// StoredLead is a lead as the simulator holds it.
type StoredLead struct {
	ID        string
	Fields    map[string]string // Acme field names (FieldGivenName, …); no empty values
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Fault is one injected failure, queued with Script or drawn by SetFaults.
type Fault int

// Faults. None of them applies the request except FaultDropAfterCommit.
const (
	FaultNone            Fault = iota // the request is processed normally
	Fault503                          // HTTP 503 with a JSON error; nothing applied
	Fault429                          // HTTP 429 with Retry-After; nothing applied
	FaultDropAfterCommit              // applied, then the connection is closed without an answer
)

// String names the fault; the names are the keys of SimStats.FaultsInjected.
func (f Fault) String() string {
	names := [...]string{"none", "http503", "http429", "dropAfterCommit"}
	if f < 0 || int(f) >= len(names) {
		return "fault(?)"
	}
	return names[f]
}

// Endpoint names, for Script, Faults.Endpoint and SimStats.ByEndpoint.
const (
	EndpointBatch = "leads.batch" // POST /v1/leads/batch
	EndpointList  = "leads.list"  // GET /v1/leads?updated_since=…
	EndpointGet   = "leads.get"   // GET /v1/leads?ids=… or ?emails=…
)

// Faults are random faults of authenticated requests, with probabilities
// per request in [0, 1], drawn in the order listed. The zero value injects
// nothing.
type Faults struct {
	// Endpoint limits the faults to one endpoint; "" = every endpoint.
	Endpoint string
	// OutageRate answers 503 without applying anything; Burst makes one
	// drawn 503 the first of Burst.
	OutageRate float64
	Burst      int
	// RateLimitRate answers 429 with Retry-After (RetryAfter, default 1s).
	RateLimitRate float64
	RetryAfter    time.Duration
	// DropAfterCommitRate applies the request and closes the connection
	// without an answer.
	DropAfterCommitRate float64
	Seed                int64
}

// SimStats are counters since NewSimulator or the last ResetStats.
type SimStats struct {
	Requests     int            // every request, authenticated or not
	ByEndpoint   map[string]int // authenticated requests by endpoint name
	HTTPStatus   map[int]int    // answers by status (0: connection closed without one)
	LeadsCreated int            // by the API or Add
	LeadsUpdated int            // changes of a lead's values, by the API or Edit (an upsert of equal values is not one)
	ItemErrors   map[string]int
	RateLimited  int // 429 answers of the rate window (injected ones are in FaultsInjected)
	// MaxInSlidingSecond is the most authenticated requests in any sliding
	// second, the ones refused with 429 included.
	MaxInSlidingSecond int
	// FaultsInjected counts the faults that reached a client by
	// Fault.String().
	FaultsInjected map[string]int
}

type simStats struct {
	requests, created, updated int
	rateLimited                int
	peaks                      simkit.Peaks
	byEndpoint                 map[string]int
	status                     map[int]int
	itemErrors                 map[string]int
}

func (st *simStats) reset() {
	*st = simStats{byEndpoint: map[string]int{}, status: map[int]int{}, itemErrors: map[string]int{}}
}

// NewSimulator returns an empty Acme account.
func NewSimulator(o SimOptions) *Simulator {
	s := &Simulator{key: cmp.Or(o.APIKey, DefaultSimKey), now: o.Now, faults: simkit.NewInjector[Fault](0xac3e),
		leads: map[int64]*StoredLead{}, byEmail: map[string]int64{}, window: simkit.Window{Limit: o.RatePerSecond, Per: time.Second}}
	if s.now == nil {
		s.now = time.Now
	}
	s.stats.reset()
	return s
}

// APIKey is the key the simulator accepts.
func (s *Simulator) APIKey() string { return s.key }

// Close releases requests held by the fault engine. The simulator keeps
// answering afterwards.
func (s *Simulator) Close() { s.faults.Close() }

// SetFaults replaces the random faults.
func (s *Simulator) SetFaults(f Faults) {
	s.faults.Set(simkit.Policy[Fault]{
		Scope: f.Endpoint,
		Rates: []simkit.Rate[Fault]{
			{P: f.OutageRate, Fault: Fault503, Bursts: true},
			{P: f.RateLimitRate, Fault: Fault429},
			{P: f.DropAfterCommitRate, Fault: FaultDropAfterCommit},
		},
		Burst: f.Burst, RetryAfter: cmp.Or(f.RetryAfter, time.Second), Seed: f.Seed,
	})
}

// Script queues one-shot faults for the next authenticated requests of an
// endpoint (EndpointBatch, …), in order.
func (s *Simulator) Script(endpoint string, faults ...Fault) { s.faults.Script(endpoint, faults...) }

// Stats returns a copy of the counters.
func (s *Simulator) Stats() SimStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SimStats{Requests: s.stats.requests, ByEndpoint: maps.Clone(s.stats.byEndpoint), HTTPStatus: maps.Clone(s.stats.status),
		LeadsCreated: s.stats.created, LeadsUpdated: s.stats.updated, ItemErrors: maps.Clone(s.stats.itemErrors),
		RateLimited: s.stats.rateLimited, MaxInSlidingSecond: s.stats.peaks.MaxInSlidingSecond(), FaultsInjected: s.faults.Counts()}
}

// ResetStats zeroes the counters; leads, scripts and faults are kept.
func (s *Simulator) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.reset()
	s.faults.ResetCounts()
}

// Len is how many leads the account holds.
func (s *Simulator) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leads)
}

// Leads returns a copy of every lead, by id.
func (s *Simulator) Leads() []StoredLead {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredLead, 0, len(s.leads))
	for _, id := range slices.Sorted(maps.Keys(s.leads)) {
		out = append(out, s.leads[id].clone())
	}
	return out
}

// Add creates a lead as someone working in Acme would, and returns its id.
// Empty values are left out.
func (s *Simulator) Add(fields map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(fields)
}

// add creates a lead. Caller holds s.mu.
func (s *Simulator) add(fields map[string]string) string {
	s.stats.created++
	now := s.stamp()
	s.seq++
	l := &StoredLead{ID: strconv.FormatInt(s.seq, 10), Fields: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	for k, v := range fields {
		if v != "" {
			l.Fields[k] = v
		}
	}
	s.leads[s.seq] = l
	if e := l.Fields[FieldEmail]; e != "" {
		s.byEmail[strings.ToLower(e)] = s.seq
	}
	return l.ID
}

// Edit changes a lead as someone working in Acme would: fn edits its
// fields (an empty value is removed), and the lead's updated_at moves when
// a value changed. It reports whether the lead exists.
func (s *Simulator) Edit(id string, fn func(fields map[string]string)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := strconv.ParseInt(id, 10, 64)
	l := s.leads[n]
	if l == nil {
		return false
	}
	fields := maps.Clone(l.Fields)
	fn(fields)
	s.apply(l, fields)
	return true
}

func (l *StoredLead) clone() StoredLead {
	c := *l
	c.Fields = maps.Clone(l.Fields)
	return c
}

// stamp returns the updated_at of a change: the clock, made later than
// every earlier stamp. Caller holds s.mu.
func (s *Simulator) stamp() time.Time {
	t := s.now().UTC()
	if !t.After(s.last) {
		t = s.last.Add(time.Nanosecond)
	}
	s.last = t
	return t
}

// apply sets a lead's fields to fields (empty values removed) and stamps
// it when a value changed. Caller holds s.mu.
func (s *Simulator) apply(l *StoredLead, fields map[string]string) {
	maps.DeleteFunc(fields, func(_, v string) bool { return v == "" })
	if maps.Equal(fields, l.Fields) {
		return
	}
	old := strings.ToLower(l.Fields[FieldEmail])
	l.Fields = fields
	l.UpdatedAt = s.stamp()
	s.stats.updated++
	n, _ := strconv.ParseInt(l.ID, 10, 64)
	if e := strings.ToLower(fields[FieldEmail]); e != old {
		if s.byEmail[old] == n {
			delete(s.byEmail, old)
		}
		if e != "" {
			s.byEmail[e] = n
		}
	}
}

// wireError is the body of every error answer and of an item's error.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ServeHTTP answers the API under /v1/.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.stats.status[sw.status]++
		s.mu.Unlock()
	}()
	s.mu.Lock()
	s.stats.requests++
	s.mu.Unlock()
	var endpoint string
	switch {
	case r.URL.Path == "/v1/leads/batch" && r.Method == http.MethodPost:
		endpoint = EndpointBatch
	case r.URL.Path == "/v1/leads" && r.Method == http.MethodGet && (r.URL.Query().Has("ids") || r.URL.Query().Has("emails")):
		endpoint = EndpointGet
	case r.URL.Path == "/v1/leads" && r.Method == http.MethodGet:
		endpoint = EndpointList
	default:
		replyError(sw, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	if r.Header.Get("X-Api-Key") != s.key {
		replyError(sw, http.StatusUnauthorized, "unauthorized", "missing or wrong X-Api-Key")
		return
	}
	s.mu.Lock()
	s.stats.byEndpoint[endpoint]++
	now := s.now()
	s.stats.peaks.Add(s.key, now)
	allowed := s.window.Allow(now)
	if !allowed {
		s.stats.rateLimited++
	}
	s.mu.Unlock()
	if !allowed {
		sw.Header().Set("Retry-After", "1")
		replyError(sw, http.StatusTooManyRequests, "rate_limited", "too many requests")
		return
	}
	d := s.faults.Next(endpoint)
	if !s.faults.Delay(r.Context(), d) {
		simkit.Abandon(sw, r)
		return
	}
	switch d.Fault {
	case Fault503:
		replyError(sw, http.StatusServiceUnavailable, "unavailable", "Acme is down for maintenance")
		return
	case Fault429:
		sw.Header().Set("Retry-After", strconv.Itoa(max(d.RetryAfter, 1)))
		replyError(sw, http.StatusTooManyRequests, "rate_limited", "too many requests")
		return
	}
	var status int
	var body any
	switch endpoint {
	case EndpointBatch:
		status, body = s.batch(r)
	case EndpointGet:
		status, body = s.get(r)
	default:
		status, body = s.list(r)
	}
	if d.Fault == FaultDropAfterCommit {
		simkit.HangUp(sw)
		return
	}
	b, _ := json.Marshal(body)
	simkit.Reply(sw, status, simkit.ContentJSON, b)
}

// statusWriter remembers the status sent; Unwrap lets HangUp reach the
// connection.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func replyError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]wireError{"error": {Code: code, Message: msg}})
	simkit.Reply(w, status, simkit.ContentJSON, b)
}

func errorBody(code, format string, args ...any) map[string]wireError {
	return map[string]wireError{"error": {Code: code, Message: fmt.Sprintf(format, args...)}}
}

// MaxBatch is the most leads one batch or read-back request may carry.
const MaxBatch = 100

// itemResult is one lead's answer in a batch.
type itemResult struct {
	ID      string     `json:"id,omitempty"`
	Created bool       `json:"created,omitempty"`
	Error   *wireError `json:"error,omitempty"`
}

// batch upserts the leads of a POST /v1/leads/batch, one at a time in
// order: by "id" when the item has one, else by email.
func (s *Simulator) batch(r *http.Request) (int, any) {
	var req struct {
		Leads []json.RawMessage `json:"leads"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20)).Decode(&req); err != nil {
		return http.StatusBadRequest, errorBody("bad_request", "the body is not a JSON object with leads")
	}
	if len(req.Leads) > MaxBatch {
		return http.StatusBadRequest, errorBody("too_many_leads", "%d leads in one batch; at most %d", len(req.Leads), MaxBatch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]itemResult, len(req.Leads))
	for i, raw := range req.Leads {
		res := s.upsert(raw)
		if res.Error != nil {
			s.stats.itemErrors[res.Error.Code]++
		}
		out[i] = res
	}
	return http.StatusOK, map[string]any{"results": out}
}

// upsert applies one batch item. Caller holds s.mu.
func (s *Simulator) upsert(raw json.RawMessage) itemResult {
	fail := func(code, format string, args ...any) itemResult {
		return itemResult{Error: &wireError{Code: code, Message: fmt.Sprintf(format, args...)}}
	}
	var item map[string]string
	if err := json.Unmarshal(raw, &item); err != nil {
		return fail("invalid_item", "a lead is an object of string values")
	}
	for k := range item {
		if k != "id" && !slices.Contains(Fields, k) {
			return fail("unknown_field", "%q is not a lead field", k)
		}
	}
	email, hasEmail := item[FieldEmail]
	if hasEmail {
		if email == "" {
			return fail("missing_email", "a lead needs an email")
		}
		if !validEmail(email) {
			return fail("invalid_email", "%q is not an email address", email)
		}
	}
	var l *StoredLead
	if id, ok := item["id"]; ok {
		n, _ := strconv.ParseInt(id, 10, 64)
		if l = s.leads[n]; l == nil {
			return fail("not_found", "no lead %q", id)
		}
	} else {
		if !hasEmail {
			return fail("missing_email", "a lead without an id needs an email")
		}
		if n, ok := s.byEmail[strings.ToLower(email)]; ok {
			l = s.leads[n]
		}
	}
	if hasEmail && l != nil {
		if other, ok := s.byEmail[strings.ToLower(email)]; ok && strconv.FormatInt(other, 10) != l.ID {
			return fail("email_taken", "another lead has %q", email)
		}
	}
	delete(item, "id")
	if l == nil {
		return itemResult{ID: s.add(item), Created: true}
	}
	fields := maps.Clone(l.Fields)
	maps.Copy(fields, item)
	s.apply(l, fields)
	return itemResult{ID: l.ID}
}

// validEmail is Acme's check of an address: a bare address (no display
// name) with a dot in its domain.
func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && strings.Contains(e[strings.LastIndex(e, "@")+1:], ".")
}

// wireLead is a lead on the wire.
type wireLead struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Fields    map[string]string
}

func (l wireLead) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(l.Fields)+3)
	for k, v := range l.Fields {
		m[k] = v
	}
	m["id"], m["created_at"], m["updated_at"] = l.ID, l.CreatedAt, l.UpdatedAt
	return json.Marshal(m)
}

func toWire(l *StoredLead) wireLead {
	return wireLead{ID: l.ID, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt, Fields: maps.Clone(l.Fields)}
}

// get answers GET /v1/leads?ids=… or ?emails=…: the leads found, in the
// order asked, each once.
func (s *Simulator) get(r *http.Request) (int, any) {
	q := r.URL.Query()
	var keys []string
	for _, v := range append(q["ids"], q["emails"]...) {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) > MaxBatch {
		return http.StatusBadRequest, errorBody("too_many_keys", "%d ids or emails; at most %d", len(keys), MaxBatch)
	}
	byEmail := !q.Has("ids")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []wireLead{}
	seen := map[int64]bool{}
	for _, k := range keys {
		var n int64
		var ok bool
		if byEmail {
			n, ok = s.byEmail[strings.ToLower(k)]
		} else {
			n, _ = strconv.ParseInt(k, 10, 64)
			_, ok = s.leads[n]
		}
		if ok && !seen[n] {
			seen[n] = true
			out = append(out, toWire(s.leads[n]))
		}
	}
	return http.StatusOK, map[string]any{"data": out}
}

// DefaultListLimit is the page size of GET /v1/leads without limit.
const DefaultListLimit = 50

// position is a lead's place in the change list: the keyset cursor.
type position struct {
	UpdatedAt time.Time `json:"u"`
	ID        int64     `json:"i"`
}

func (p position) before(q position) bool {
	return p.UpdatedAt.Before(q.UpdatedAt) || (p.UpdatedAt.Equal(q.UpdatedAt) && p.ID < q.ID)
}

func encodePosition(p position) string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePosition(s string) (position, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var p position
	if err != nil || json.Unmarshal(b, &p) != nil || p.ID <= 0 {
		return position{}, false
	}
	return p, true
}

// list answers GET /v1/leads?updated_since=…&after=…&limit=…: the leads
// updated at or after updated_since and after the cursor, ordered by
// (updated_at, id); next is the cursor of the last lead listed, more says
// whether leads follow it.
func (s *Simulator) list(r *http.Request) (int, any) {
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return http.StatusBadRequest, errorBody("invalid_updated_since", "%q is not an RFC 3339 time", v)
		}
		since = t
	}
	var after *position
	if v := q.Get("after"); v != "" {
		p, ok := decodePosition(v)
		if !ok {
			return http.StatusBadRequest, errorBody("invalid_cursor", "the cursor is not one Acme gave")
		}
		after = &p
	}
	limit := DefaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxBatch {
			return http.StatusBadRequest, errorBody("invalid_limit", "limit %q is not in 1..%d", v, MaxBatch)
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []position
	for n, l := range s.leads {
		p := position{l.UpdatedAt, n}
		if l.UpdatedAt.Before(since) || (after != nil && !after.before(p)) {
			continue
		}
		match = append(match, p)
	}
	slices.SortFunc(match, func(a, b position) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	more := len(match) > limit
	if more {
		match = match[:limit]
	}
	data := make([]wireLead, len(match))
	for i, p := range match {
		data[i] = toWire(s.leads[p.ID])
	}
	out := map[string]any{"data": data, "more": more}
	if len(match) > 0 {
		out["next"] = encodePosition(match[len(match)-1])
	}
	return http.StatusOK, out
}
