package getleadsim

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Server is a Getlead simulator for both APIs. It is an http.Handler; all
// methods are safe for concurrent use.
type Server struct {
	cfg    config
	faults *simkit.Injector[Fault]

	mu    sync.Mutex // guards everything below
	leads map[string]*lead
	order []string // lead ids in creation order
	// byCreate indexes lead ids by created_at, so that a list from a
	// creation time reads the leads created since, not every lead.
	byCreate *simkit.TimeIndex[string]
	byPhone  map[string]string // E.164 → lead id
	// byEmail lists, per lower-cased email, the leads that have had it, so
	// a lookup by email reads a few leads, not every one (a hint: each is
	// checked against the lead).
	byEmail    map[string][]string
	fieldKnown map[string]bool
	fieldDefs  map[string]Field // typed fields; a known key without one is text
	fieldOrder []string
	tasks      []task
	deals      []deal
	depts      map[string]string // source number → department
	seq        uint64
	stats      statsState
	log        simkit.Log[LoggedRequest]
	window     time.Time // start of the current V3 rate window
	inWindow   int
	held       *simkit.Late[string] // writes of FaultLateApply, by leadKey
	// lateWaiting counts requests of FaultLateApply not yet held: they
	// wait unanswered for the client to give up (HeldWrites).
	lateWaiting int
	// applyingLate is set while a held late write is applied (rename).
	applyingLate bool
	lateAfter    int
	lateDelay    time.Duration
}

// New returns a simulator configured by opts (zero values mean defaults).
func New(opts Options) *Server {
	s := &Server{
		cfg:        opts.config(),
		faults:     simkit.NewInjector[Fault](0x61ead),
		leads:      map[string]*lead{},
		byPhone:    map[string]string{},
		byCreate:   simkit.NewTimeIndex[string](),
		byEmail:    map[string][]string{},
		fieldKnown: map[string]bool{},
		fieldDefs:  map[string]Field{},
		depts:      map[string]string{},
		lateAfter:  1,
		lateDelay:  DefaultLateDelay,
	}
	s.held = simkit.NewLate[string](&s.mu)
	for _, k := range s.cfg.customFields {
		s.addField(k)
	}
	for _, f := range s.cfg.fields {
		s.addTypedField(f)
	}
	s.stats.reset()
	return s
}

// Close releases requests held by FaultTimeout, FaultLateApply or
// Faults.Latency so that an httptest.Server can shut down; their
// connections are closed without an answer and nothing is applied, and
// late writes not yet applied are dropped. The simulator keeps answering
// afterwards.
func (s *Server) Close() {
	s.faults.Close()
	s.mu.Lock()
	s.held.Drop()
	s.mu.Unlock()
}

// API names in RequestLog.
const (
	APIClassic = "classic"
	APIV3      = "v3"
)

// LoggedRequest is one request as the simulator saw it; no token or key is
// kept.
type LoggedRequest struct {
	Time       time.Time // from Options.Now, at arrival
	API        string    // APIClassic, APIV3, or "" for an unknown path
	Endpoint   string    // endpoint name as in Script; "" when unknown
	HTTPStatus int       // 0 when no answer was sent (dropped, held, client gone)
	Fault      Fault
}

// ServeHTTP answers the classic API under /api/gl-… and V3 under /api/v1/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &LoggedRequest{Time: s.cfg.now()}
	sw := &statusWriter{ResponseWriter: w, s: s, rec: rec}
	defer sw.log()
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		rec.API = APIV3
		s.serveV3(sw, r, rec)
	case strings.HasPrefix(r.URL.Path, "/api/gl-"):
		rec.API = APIClassic
		s.serveClassic(sw, r, rec)
	default:
		http.NotFound(sw, r)
	}
}

// statusWriter remembers the status sent and logs the request; Unwrap
// lets http.ResponseController reach the connection for hijacking.
type statusWriter struct {
	http.ResponseWriter
	status int
	s      *Server
	rec    *LoggedRequest
	logged bool
}

// log appends the request to RequestLog, once. It runs when the handler
// returns, before a buffered answer is flushed, and in hangUp before the
// connection is closed, so a client that saw the outcome always finds the
// request logged.
func (w *statusWriter) log() {
	if w.logged {
		return
	}
	w.logged = true
	w.rec.HTTPStatus = w.status
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Add(*w.rec)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RequestLog returns a copy of the logged requests, oldest first (at most
// the last 100000).
func (s *Server) RequestLog() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Entries()
}

// Stats are counters since New or the last ResetStats.
type Stats struct {
	Requests    int            // every request, authenticated or not
	ByEndpoint  map[string]int // authenticated requests per endpoint name (see Script)
	HTTPStatus  map[int]int    // answers by HTTP status (0: connection closed without an answer)
	Classic     map[string]int // classic answers by "status" (success, fail, error)
	Messages    map[string]int // classic answer messages
	NotesAdded  int            // notes appended by either API
	LeadsAdded  int            // leads created by either API
	RateLimited int            // 429 answers, limiter or injected
	Dropped     int            // connections closed after commit
	// LateHeld and LateApplied count the writes of FaultLateApply held
	// after the client gave up, and those applied since.
	LateHeld, LateApplied int

	// MaxInFixedSecond and MaxInSlidingSecond are the most authenticated
	// requests of one credential (the classic token or the V3 key) in one
	// UTC second and in any sliding one-second window, the ones refused
	// with 429 included.
	MaxInFixedSecond   int
	MaxInSlidingSecond int
	// FaultsInjected counts the faults that reached a client, scripted or
	// random, by Fault.String() ("http429", "http429RetryAfter", "timeout",
	// "malformedJSON", …); LatencyKey counts delayed requests. A fault is
	// counted once its latency has passed.
	FaultsInjected map[string]int
}

type statsState struct {
	requests    int
	byEndpoint  map[string]int
	httpStatus  map[int]int
	classic     map[string]int
	messages    map[string]int
	notes       int
	leads       int
	rateLimited int
	dropped     int
	lateHeld    int
	lateApplied int
	windows     simkit.Peaks
}

func (st *statsState) reset() {
	*st = statsState{byEndpoint: map[string]int{}, httpStatus: map[int]int{}, classic: map[string]int{}, messages: map[string]int{}}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	return Stats{
		Requests: st.requests, ByEndpoint: maps.Clone(st.byEndpoint), HTTPStatus: maps.Clone(st.httpStatus),
		Classic: maps.Clone(st.classic), Messages: maps.Clone(st.messages), NotesAdded: st.notes,
		LeadsAdded: st.leads, RateLimited: st.rateLimited, Dropped: st.dropped,
		LateHeld: st.lateHeld, LateApplied: st.lateApplied,
		MaxInFixedSecond: st.windows.MaxInFixedSecond(), MaxInSlidingSecond: st.windows.MaxInSlidingSecond(),
		FaultsInjected: s.faults.Counts(),
	}
}

// ResetStats zeroes Stats and empties RequestLog. Rate windows are kept.
func (s *Server) ResetStats() {
	simkit.ResetStats(&s.mu, s.stats.reset, &s.log, s.faults)
}

// takeV3 counts one V3 request against the rate window and reports how many
// seconds to wait when it is over the limit. Caller holds s.mu.
func (s *Server) takeV3(now time.Time) (retryAfter int, ok bool) {
	if s.cfg.rateLimit <= 0 {
		return 0, true
	}
	if now.Sub(s.window) >= s.cfg.rateWindow || now.Before(s.window) {
		s.window, s.inWindow = now, 0
	}
	if s.inWindow >= s.cfg.rateLimit {
		left := s.window.Add(s.cfg.rateWindow).Sub(now)
		return simkit.Seconds(left), false
	}
	s.inWindow++
	return 0, true
}

func (s *Server) count(status int) {
	s.mu.Lock()
	s.stats.httpStatus[status]++
	s.mu.Unlock()
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, body any) {
	s.count(status)
	w.Header().Set("Content-Type", simkit.ContentJSON)
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

// dropConnection closes the connection without a response, as a crash after
// the commit would.
func (s *Server) dropConnection(w http.ResponseWriter) {
	s.mu.Lock()
	s.stats.dropped++
	s.mu.Unlock()
	s.hangUp(w)
}

// hangUp closes the connection without an answer.
func (s *Server) hangUp(w http.ResponseWriter) {
	s.count(0)
	if sw, ok := w.(*statusWriter); ok {
		sw.log()
	}
	simkit.HangUp(w)
}
