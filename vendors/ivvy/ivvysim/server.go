package ivvysim

import (
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// maxBody bounds a request body.
const maxBody = 32 << 20

// Server is an iVvy API simulator; an http.Handler for
// POST /api/1.0/{namespace}?action={action}. All methods are safe for
// concurrent use.
type Server struct {
	cfg       config
	actions   map[string]handler // "namespace.action"; fixed after New
	faults    *simkit.Injector[Fault]
	callbacks sync.WaitGroup // batch callbacks in flight

	mu sync.Mutex // guards everything below

	contacts map[int64]*contact
	// contactOrder and leadOrder hold the ids in ascending order (ids are
	// issued in order), so lists need no sort per request.
	contactOrder, leadOrder []int64
	companies               map[int64]*company
	leads                   map[int64]*lead
	// contactHints (by "ext:"/"email:" + lower-cased value) and
	// leadsByContact list the ids that have had the value, so lookups by
	// externalId, email or contactId read a few records, not every one: a
	// history of 100,000 leads must not make each lookup scan it. A hint
	// may be stale; every candidate is checked against the record.
	contactHints   map[string][]int64
	leadsByContact map[int64][]int64
	// leadMod and contactMod index records by modifiedDate (see modIndex).
	leadMod, contactMod *modIndex
	lookups             map[string][]lookupItem // list name → items
	fieldDefs           []fieldDef              // contact custom fields
	batches             map[string]*batch
	nextID              map[string]int64

	limits map[string]*simkit.Window // per key, RateLimitPerSecond
	stats  statsState
	log    simkit.Log[LoggedRequest]
}

// handler answers one action: a JSON-encodable result or an error.
// Handlers run with s.mu held.
type handler func(s *Server, c *call) (any, *apiError)

// call is one dispatched action.
type call struct {
	now     time.Time
	params  map[string]json.RawMessage
	written int // records created or changed
}

// New returns a simulator seeded with lookup lists and contact custom field
// definitions (see SeedLookups for the defaults).
func New(opts Options) *Server {
	s := &Server{
		cfg:          opts.config(),
		faults:       simkit.NewInjector[Fault](0x1e55),
		contacts:     map[int64]*contact{},
		companies:    map[int64]*company{},
		leads:        map[int64]*lead{},
		contactHints: map[string][]int64{}, leadsByContact: map[int64][]int64{},
		leadMod: newModIndex(), contactMod: newModIndex(),
		batches: map[string]*batch{},
		nextID:  map[string]int64{"contact": 33001, "company": 1601, "lead": 5001, "batch": 9001},
		limits:  map[string]*simkit.Window{},
	}
	s.stats.reset()
	s.actions = map[string]handler{
		"test.ping":                               (*Server).ping,
		"contact.addOrUpdateContact":              (*Server).addOrUpdateContact,
		"contact.addOrUpdateCompany":              (*Server).addOrUpdateCompany,
		"contact.getContactList":                  (*Server).getContactList,
		"contact.getCustomFieldDefinition":        (*Server).getCustomFieldDefinition,
		"contact.addOrUpdateLead":                 (*Server).addOrUpdateLead,
		"crm.getLeadList":                         (*Server).getLeadList,
		"crm.getLeadSourceList":                   lookupHandler("source"),
		"crm.getLeadTypeList":                     lookupHandler("type"),
		"crm.getLeadStageList":                    lookupHandler("stage"),
		"crm.getLeadQualityList":                  lookupHandler("quality"),
		"crm.getLeadChannelList":                  lookupHandler("channel"),
		"account.getIndustryList":                 lookupHandler("industry"),
		"batch.run":                               (*Server).batchRun,
		"batch.progress":                          (*Server).batchProgress,
		"batch.results":                           (*Server).batchResults,
		"batch.restart":                           (*Server).batchRestart,
		"batch.repost":                            (*Server).batchRepost,
		"contact.getCompanyCustomFieldDefinition": func(*Server, *call) (any, *apiError) { return []any{}, nil },
	}
	s.seedDefaults()
	return s
}

// Close releases requests held by FaultTimeout or Latency (their
// connections are closed without an answer and nothing is applied) and
// waits for batch callbacks in flight. The simulator keeps answering afterwards.
func (s *Server) Close() {
	s.faults.Close()
	s.callbacks.Wait()
}

// ServeHTTP checks, in order: path, POST, body size, signature (header,
// key, Content-MD5, date window, HMAC), rate limit (429), action (404),
// injected faults, then runs the action.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.now()
	rec := LoggedRequest{Time: now}
	ns, ok := strings.CutPrefix(r.URL.Path, "/api/1.0/")
	action := r.URL.Query().Get("action")
	rec.Action = ns + "." + action
	if !ok || ns == "" || strings.Contains(ns, "/") {
		s.reply(w, &rec, nil, newErr(http.StatusNotFound, 0, "Not Found"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.reply(w, &rec, nil, newErr(http.StatusMethodNotAllowed, 0, "Method Not Allowed"))
		return
	}
	body, ok := simkit.ReadBody(w, r, maxBody, func() {
		s.reply(w, &rec, nil, newErr(http.StatusRequestEntityTooLarge, 0, "Request Entity Too Large"))
	})
	if !ok {
		return
	}
	key, aerr := s.verify(r, body, now)
	if aerr != nil {
		s.mu.Lock()
		s.stats.authFailures[aerr.SpecificCode]++
		s.mu.Unlock()
		s.reply(w, &rec, nil, aerr)
		return
	}
	rec.Key = key

	s.mu.Lock()
	s.stats.requests++
	s.stats.byAction[rec.Action]++
	s.stats.windows.Add(key, now)
	limited := s.overLimit(key, now)
	h, known := s.actions[rec.Action]
	var d simkit.Decision[Fault]
	if !limited && known {
		d = s.nextFault(rec.Action)
	}
	s.mu.Unlock()
	fault := d.Fault
	rec.Fault = fault
	switch {
	case limited:
		s.reply(w, &rec, nil, newErr(http.StatusTooManyRequests, 0, "Too Many Requests"))
		return
	case !known:
		s.reply(w, &rec, nil, newErr(http.StatusNotFound, 0, "Unknown action '"+rec.Action+"'"))
		return
	}
	if !s.faults.Admit(w, r, d, func() { s.record(rec) }) {
		return // the client gave up or Close; nothing applied, nothing sent
	}
	switch fault {
	case Fault429, Fault429RetryAfter:
		if fault == Fault429RetryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(cmp.Or(d.RetryAfter, ScriptedRetryAfter)))
		}
		s.reply(w, &rec, nil, newErr(http.StatusTooManyRequests, 0, "Too Many Requests"))
		return
	case FaultMalformedJSON, FaultMalformedHTML:
		contentType, body := malformedBody(fault, rec.Action)
		s.replyRaw(w, &rec, http.StatusOK, contentType, body)
		return
	case Fault500:
		s.reply(w, &rec, nil, newErr(http.StatusInternalServerError, 0, "Internal Server Error"))
		return
	case Fault503:
		s.replyRaw(w, &rec, http.StatusServiceUnavailable, "text/html", "<html><body><h1>503 Service Unavailable</h1></body></html>\n")
		return
	case FaultTimeout:
		s.faults.Unanswered(w, r, d, func() { s.record(rec) }) // cap passed or Close: still no answer
		return
	}

	params, perr := parseParams(body)
	s.mu.Lock()
	var res any
	if perr == nil {
		c := &call{now: now.UTC(), params: params}
		res, perr = h(s, c)
		s.stats.written += c.written
	}
	s.mu.Unlock()
	if fault == FaultDropAfterCommit {
		s.mu.Lock()
		s.stats.dropped++
		s.mu.Unlock()
		s.record(rec)
		simkit.HangUp(w)
		return
	}
	s.reply(w, &rec, res, perr)
}

// parseParams reads the body: a JSON object, or empty (no parameters).
func parseParams(body []byte) (map[string]json.RawMessage, *apiError) {
	params := map[string]json.RawMessage{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return params, nil
	}
	if err := json.Unmarshal(body, &params); err != nil {
		return nil, newErr(http.StatusBadRequest, CodeInvalidParameter, "The request body is not a JSON object")
	}
	return params, nil
}

// verify checks the IWS signature (spec §2.2) and returns the API key. It is
// written independently of the client's signing code so that a shared bug
// cannot make them agree.
func (s *Server) verify(r *http.Request, body []byte, now time.Time) (string, *apiError) {
	auth := r.Header.Get("X-Api-Authorization")
	rest, ok := strings.CutPrefix(auth, "IWS ")
	if !ok {
		return "", unauthorized(CodeAuthMissing, "Unauthorized")
	}
	key, sig, ok := strings.Cut(rest, ":")
	secret, known := s.cfg.keys[key]
	if !ok || key == "" {
		return "", unauthorized(CodeAuthMissing, "Unauthorized")
	}
	if !known {
		return key, unauthorized(CodeUnknownKey, "Unauthorized")
	}
	sum := md5.Sum(body)
	md5Header := r.Header.Get("Content-MD5")
	if !strings.EqualFold(md5Header, hex.EncodeToString(sum[:])) {
		return key, unauthorized(CodeBadContentMD5, "Unauthorized")
	}
	dateHeader, signedDate := r.Header.Get("Date"), ""
	var at time.Time
	var err error
	if d := r.Header.Get("IVVY-Date"); d != "" {
		at, err = time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(strings.TrimSuffix(d, " UTC")), time.UTC)
	} else if dateHeader != "" {
		signedDate = dateHeader
		at, err = http.ParseTime(strings.Replace(dateHeader, " UTC", " GMT", 1))
	} else {
		err = errors.New("no date")
	}
	if err != nil {
		return key, unauthorized(CodeMissingDate, "Unauthorized")
	}
	if d := now.Sub(at); d > s.cfg.maxSkew || d < -s.cfg.maxSkew {
		return key, unauthorized(CodeStale, "Request is stale")
	}
	var ivvy []string
	for name, vals := range r.Header {
		if len(name) < 4 || !strings.EqualFold(name[:4], "ivvy") {
			continue
		}
		n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(name))
		for _, v := range vals {
			ivvy = append(ivvy, n+"="+v)
		}
	}
	sort.Strings(ivvy)
	sts := strings.ToLower(r.Method + md5Header + r.Header.Get("Content-Type") + signedDate + r.RequestURI + "1.0" + strings.Join(ivvy, "&"))
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return key, unauthorized(CodeBadSignature, "Unauthorized")
	}
	return key, nil
}

// overLimit counts one request of key and reports whether it is beyond
// RateLimitPerSecond in the last second; refused requests do not use the
// budget. Caller holds s.mu.
func (s *Server) overLimit(key string, now time.Time) bool {
	w := s.limits[key]
	if w == nil {
		w = &simkit.Window{Limit: s.cfg.ratePerSecond, Per: time.Second}
		s.limits[key] = w
	}
	return !w.Allow(now)
}

// reply writes the result (HTTP 200) or the error body with the HTTP status
// mirroring errorCode.
func (s *Server) reply(w http.ResponseWriter, rec *LoggedRequest, res any, e *apiError) {
	status, body := http.StatusOK, []byte(nil)
	if e != nil {
		status, body = e.ErrorCode, e.body()
		rec.SpecificCode = e.SpecificCode
	} else {
		var err error
		if body, err = json.Marshal(res); err != nil {
			status, body = 500, newErr(500, 0, "Internal Server Error").body()
		}
	}
	rec.HTTPStatus = status
	s.record(*rec)
	simkit.Reply(w, status, simkit.ContentJSON, body)
}

// replyRaw answers a body that is not iVvy's JSON (a proxy's page, a
// malformed answer).
func (s *Server) replyRaw(w http.ResponseWriter, rec *LoggedRequest, status int, contentType, body string) {
	rec.HTTPStatus = status
	s.record(*rec)
	simkit.Reply(w, status, contentType, []byte(body))
}

func (s *Server) record(rec LoggedRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.HTTPStatus != 0 && rec.HTTPStatus != http.StatusOK {
		s.stats.httpErrors[rec.HTTPStatus]++
	}
	if rec.SpecificCode != 0 {
		s.stats.bySpecific[rec.SpecificCode]++
	}
	s.log.Add(rec)
}

func (s *Server) ping(c *call) (any, *apiError) {
	return map[string]string{"ack": c.now.Format(timeLayout)}, nil
}

// LoggedRequest is one request as the simulator saw it; no secret or
// signature is kept.
type LoggedRequest struct {
	Time         time.Time
	Key          string // API key, once the header was readable
	Action       string // "namespace.action"
	HTTPStatus   int    // 0 when no answer was sent
	SpecificCode int
	Fault        Fault
}

// Stats are counters since New or ResetStats.
type Stats struct {
	Requests       int            // authenticated requests, 429s included
	ByAction       map[string]int // authenticated requests per "namespace.action"
	HTTPErrors     map[int]int    // non-200 answers by status
	BySpecific     map[int]int    // error answers by specific code (auth failures included)
	AuthFailures   map[int]int    // refused signatures by specific code
	RecordsWritten int            // contacts, companies and leads created or changed
	Dropped        int            // connections closed after commit

	// MaxInFixedSecond and MaxInSlidingSecond are the most authenticated
	// requests of one key in one UTC second and in any sliding one-second
	// window, the ones refused with 429 included.
	MaxInFixedSecond   int
	MaxInSlidingSecond int
	// MaxPerSecond equals MaxInSlidingSecond; kept for existing callers.
	MaxPerSecond int
	// FaultsInjected counts the faults that reached a client, scripted or
	// random, by Fault.String() ("http429", "http429RetryAfter", "timeout",
	// "malformedJSON", …); LatencyKey counts delayed requests. A fault is
	// counted once its latency has passed.
	FaultsInjected map[string]int
}

type statsState struct {
	requests, written, dropped           int
	byAction                             map[string]int
	httpErrors, bySpecific, authFailures map[int]int
	windows                              simkit.Peaks
}

func (st *statsState) reset() {
	*st = statsState{byAction: map[string]int{}, httpErrors: map[int]int{}, bySpecific: map[int]int{}, authFailures: map[int]int{}}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	return Stats{Requests: st.requests, ByAction: maps.Clone(st.byAction), HTTPErrors: maps.Clone(st.httpErrors),
		BySpecific: maps.Clone(st.bySpecific), AuthFailures: maps.Clone(st.authFailures),
		RecordsWritten: st.written, Dropped: st.dropped,
		MaxInFixedSecond: st.windows.MaxInFixedSecond(), MaxInSlidingSecond: st.windows.MaxInSlidingSecond(),
		MaxPerSecond: st.windows.MaxInSlidingSecond(), FaultsInjected: s.faults.Counts()}
}

// ResetStats zeroes Stats and empties RequestLog.
func (s *Server) ResetStats() {
	simkit.ResetStats(&s.mu, s.stats.reset, &s.log, s.faults)
}

// RequestLog returns a copy of the logged requests, oldest first (at most
// the last 100000).
func (s *Server) RequestLog() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Entries()
}
