package getleadsim

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a Getlead simulator for both APIs. It is an http.Handler; all
// methods are safe for concurrent use.
type Server struct {
	cfg config

	mu         sync.Mutex // guards everything below
	leads      map[string]*lead
	order      []string          // lead ids in creation order
	byPhone    map[string]string // E.164 → lead id
	fieldKnown map[string]bool
	fieldOrder []string
	tasks      []task
	deals      []deal
	depts      map[string]string // source number → department
	seq        uint64
	stats      statsState
	scripts    map[string][]Fault
	window     time.Time // start of the current V3 rate window
	inWindow   int
}

// New returns a simulator configured by opts (zero values mean defaults).
func New(opts Options) *Server {
	s := &Server{
		cfg:        opts.config(),
		leads:      map[string]*lead{},
		byPhone:    map[string]string{},
		fieldKnown: map[string]bool{},
		depts:      map[string]string{},
		scripts:    map[string][]Fault{},
	}
	for _, k := range s.cfg.customFields {
		s.addField(k)
	}
	s.stats.reset()
	return s
}

// ServeHTTP answers the classic API under /api/gl-… and V3 under /api/v1/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		s.serveV3(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/gl-"):
		s.serveClassic(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Fault is one injected failure, queued with Script.
type Fault int

// Faults. None of them applies the request, except FaultDropAfterCommit.
const (
	FaultNone            Fault = iota // the call is processed normally
	Fault500                          // HTTP 500 with an HTML body
	Fault503                          // HTTP 503 with an HTML body
	Fault429                          // HTTP 429 {"message","retry_after": 7} and Retry-After: 7
	FaultDropAfterCommit              // applied, then the connection is closed without a response
)

// ScriptedRetryAfter is the retry_after (seconds) of Fault429.
const ScriptedRetryAfter = 7

// Script queues one-shot faults for the next calls of an endpoint, in order.
// Endpoint names: the classic path segment ("gl-website-contacts",
// "gl-status-change-api", "gl-note-creation-api", "gl-task-creation-api",
// "gl-deal-creation-api", "gl-department-vise-agent-assign") or a V3 name
// ("meta", "leads.list", "leads.create", "leads.get", "leads.update",
// "leads.by-identifier", "leads.notes"). Only authenticated calls within
// the rate limit consume the queue.
func (s *Server) Script(endpoint string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[endpoint] = append(s.scripts[endpoint], faults...)
}

// nextFault pops the next scripted fault of endpoint. Caller holds s.mu.
func (s *Server) nextFault(endpoint string) Fault {
	q := s.scripts[endpoint]
	if len(q) == 0 {
		return FaultNone
	}
	if len(q) == 1 {
		delete(s.scripts, endpoint)
	} else {
		s.scripts[endpoint] = q[1:]
	}
	return q[0]
}

// Stats are counters since New or the last ResetStats.
type Stats struct {
	Requests    int            // every request, authenticated or not
	ByEndpoint  map[string]int // authenticated requests per endpoint name (see Script)
	HTTPStatus  map[int]int    // answers by HTTP status (0: connection dropped)
	Classic     map[string]int // classic answers by "status" (success, fail, error)
	Messages    map[string]int // classic answer messages
	NotesAdded  int            // notes appended by either API
	LeadsAdded  int            // leads created by either API
	RateLimited int            // 429 answers, limiter or scripted
	Dropped     int            // connections closed after commit
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
	}
}

// ResetStats zeroes Stats. Rate windows are kept.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.reset()
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
		return max(1, int((left+time.Second-1)/time.Second)), false
	}
	s.inWindow++
	return 0, true
}

// faultReply answers a fault that applies nothing; it reports false for
// FaultNone and FaultDropAfterCommit, which the handler deals with.
func (s *Server) faultReply(w http.ResponseWriter, f Fault) bool {
	switch f {
	case Fault500, Fault503:
		status := http.StatusInternalServerError
		if f == Fault503 {
			status = http.StatusServiceUnavailable
		}
		s.count(status)
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body><h1>" + http.StatusText(status) + "</h1></body></html>\n"))
		return true
	case Fault429:
		s.tooMany(w, ScriptedRetryAfter)
		return true
	}
	return false
}

func (s *Server) tooMany(w http.ResponseWriter, retryAfter int) {
	s.mu.Lock()
	s.stats.rateLimited++
	s.mu.Unlock()
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	s.writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too Many Attempts.", "retry_after": retryAfter})
}

func (s *Server) count(status int) {
	s.mu.Lock()
	s.stats.httpStatus[status]++
	s.mu.Unlock()
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, body any) {
	s.count(status)
	w.Header().Set("Content-Type", "application/json")
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
	s.stats.httpStatus[0]++
	s.mu.Unlock()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
