package sharpspringsim

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// maxBody bounds a request body; real requests of 500 leads are well below.
const maxBody = 64 << 20

// expectLimit is the URL+body size above which the Google front end answers
// 502 to a request carrying "Expect: 100-continue" (spec §5.3).
const expectLimit = 1024

// API versions as they appear in the path and in RequestLog.
const (
	VersionV1  = "v1"
	VersionV12 = "v1.2"
)

// timeLayout is the API's "Y-m-d H:i:s" format; it carries no zone.
const timeLayout = "2006-01-02 15:04:05"

// Server is a SharpSpring Open API simulator. It is an http.Handler for
// /pubapi/v1/ and /pubapi/v1.2/; mount it on an httptest.Server. All methods
// are safe for concurrent use.
type Server struct {
	cfg     config
	methods map[string]methodSpec // fixed after New
	faults  *simkit.Injector[Fault]

	mu sync.Mutex // guards everything below

	leads  map[int64]*lead
	emails map[string]int64 // lower-cased email → lead id, inactive leads included
	// byUpdate and byCreate index lead ids by their timestamps, so that
	// getLeadsDateRange reads the leads of its window, not every lead.
	byUpdate, byCreate *simkit.TimeIndex[int64]
	nextID             int64
	fields             []*field // getFields order: standard fields, then custom ones as created
	nextFieldID        int64
	lastUniqid         int64 // µs behind the last generated systemName suffix
	orderRand          *rand.Rand

	usage map[string]*usage // per account
	stats statsState
	log   simkit.Log[LoggedRequest]

	clients      map[int64]*agencyClient
	nextClientID int64
	users        map[string]int64 // lower-cased user email → user id, across accounts
	nextUserID   int64
}

// methodSpec is one API method. Exactly one of read and write is set; write
// methods get their params.objects already checked for 207/208/209.
type methodSpec struct {
	read  func(s *Server, c *call) outcome
	write func(s *Server, c *call, objects []json.RawMessage) outcome
}

// call is one dispatched request.
type call struct {
	version string
	account string         // the authenticated accountID
	zone    *time.Location // zone of "Y-m-d H:i:s" values: UTC for v1.2, company zone for v1
	now     time.Time
	params  map[string]json.RawMessage
	notes   []string
}

func (c *call) note(s string) { c.notes = append(c.notes, s) }

// outcome is what a method answers.
type outcome struct {
	result  []byte // JSON; nil = null
	errJSON []byte // top-level error member; nil = null
	codes   []int  // API-level code, or object-level codes in input order
	written int    // objects whose write was applied
	hasMore *bool  // top-level hasMore member, when the method has one
}

// New returns a simulator configured by opts (zero values mean defaults).
func New(opts Options) *Server {
	cfg := opts.config()
	s := &Server{
		cfg:         cfg,
		faults:      simkit.NewInjector[Fault](0x5a17),
		leads:       make(map[int64]*lead),
		emails:      make(map[string]int64),
		byUpdate:    simkit.NewTimeIndex[int64](),
		byCreate:    simkit.NewTimeIndex[int64](),
		nextID:      cfg.firstID,
		nextFieldID: 489210000,
		orderRand:   rand.New(rand.NewPCG(uint64(cfg.firstID), 0x5eed)),
		usage:       make(map[string]*usage),

		clients:      make(map[int64]*agencyClient),
		nextClientID: DefaultFirstClientID,
		users:        make(map[string]int64),
		nextUserID:   313361052,
	}
	s.stats.reset()
	s.methods = make(map[string]methodSpec)
	s.registerLeadMethods()
	s.registerFieldMethods()
	s.registerClientMethods()
	s.seedStandardFields()
	return s
}

// Close releases requests held by FaultTimeout or Latency so that an
// httptest.Server can shut down; their connections are closed without an
// answer and nothing is applied. The simulator keeps answering afterwards.
func (s *Server) Close() {
	s.faults.Close()
}

// versionOf maps a request path to its API version.
func versionOf(path string) (string, bool) {
	switch strings.TrimSuffix(path, "/") {
	case "/pubapi/v1":
		return VersionV1, true
	case "/pubapi/v1.2":
		return VersionV12, true
	}
	return "", false
}

// ServeHTTP answers /pubapi/v1/ and /pubapi/v1.2/ (trailing slash optional).
// The order of checks is: path, Expect rule, POST, credentials (103, 104,
// 401/105), request counting, daily and per-second limits (106, 107),
// envelope (101, 201, 202, 102), method (204), faults, then the method.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.now()
	rec := LoggedRequest{Time: now}
	version, ok := versionOf(r.URL.Path)
	if !ok {
		s.replyText(w, &rec, http.StatusNotFound, "text/plain; charset=utf-8", "404 page not found\n")
		return
	}
	rec.Version = version

	if s.cfg.expectRule && strings.EqualFold(strings.TrimSpace(r.Header.Get("Expect")), "100-continue") {
		size := r.ContentLength
		if size < 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
			if err != nil {
				return
			}
			size = int64(len(body))
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if int64(len(fullURL(r)))+size > expectLimit {
			s.replyText(w, &rec, http.StatusBadGateway, "text/html; charset=UTF-8", html502)
			return
		}
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.replyText(w, &rec, http.StatusMethodNotAllowed, "text/plain; charset=utf-8", "Method Not Allowed\n")
		return
	}

	body, ok := simkit.ReadBody(w, r, maxBody, func() {
		s.replyText(w, &rec, http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", "Request Entity Too Large\n")
	})
	if !ok {
		return
	}
	env := parseEnvelope(body)
	rec.Method = env.method
	rec.RequestID = string(env.id)

	// Credentials come from the query string only; a "header" member in
	// the body is ignored. The secret is compared and then forgotten.
	q := r.URL.Query()
	account := q.Get("accountID")
	switch {
	case account == "":
		s.replyError(w, &rec, env.id, newError(CodeMissingAccountID))
		return
	case q.Get("secretKey") == "":
		s.replyError(w, &rec, env.id, newError(CodeMissingSecretKey))
		return
	}
	if secret, known := s.cfg.accounts[account]; !known || secret != q.Get("secretKey") {
		if s.cfg.authAs200 {
			s.replyError(w, &rec, env.id, newError(CodeAuthFailed))
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="SharpSpring"`)
		s.replyText(w, &rec, http.StatusUnauthorized, "text/plain; charset=utf-8", "Unable to determine clusterID from provided accountID/secretKey")
		return
	}
	rec.AccountID = account

	s.mu.Lock()
	s.countRequest(account, env.method, now)
	limitCode := s.checkLimits(account)
	s.mu.Unlock()
	if limitCode != 0 {
		s.replyError(w, &rec, env.id, newError(limitCode))
		return
	}
	if e := env.check(); e != nil {
		s.replyError(w, &rec, env.id, e)
		return
	}
	spec, known := s.methods[env.method]
	if !known {
		s.replyError(w, &rec, env.id, newError(CodeUnknownMethod))
		return
	}
	objects, objErr := s.objectsParam(spec, env.params)
	rec.Objects = len(objects)

	d := s.faults.Next(env.method)
	fault := d.Fault
	rec.Fault = fault
	if !s.faults.Admit(w, r, d, func() { s.record(rec) }) {
		return // the client gave up or Close; nothing applied, nothing sent
	}
	switch fault {
	case Fault500, Fault503:
		status := http.StatusInternalServerError
		if fault == Fault503 {
			status = http.StatusServiceUnavailable
		}
		s.replyText(w, &rec, status, "text/html; charset=UTF-8", htmlServerError(status))
		return
	case Fault999:
		s.replyError(w, &rec, env.id, newError(CodeUnknown))
		return
	case FaultUnavailable:
		s.replyError(w, &rec, env.id, &apiError{Code: CodeUnknown, Message: UnavailableMessage, Data: []any{}})
		return
	case Fault107:
		s.replyError(w, &rec, env.id, newError(CodeSecondLimit))
		return
	case Fault106:
		s.replyError(w, &rec, env.id, newError(CodeDailyLimit))
		return
	case FaultMalformedJSON, FaultMalformedHTML:
		contentType, body := malformedBody(fault, env.method)
		s.replyText(w, &rec, http.StatusOK, contentType, body)
		return
	case FaultTimeout:
		s.faults.Unanswered(w, r, d, func() { s.record(rec) }) // cap passed or Close: still no answer
		return
	}

	if objErr != nil {
		s.replyError(w, &rec, env.id, objErr)
		return
	}
	c := &call{version: version, account: account, zone: time.UTC, now: now, params: env.params}
	if version == VersionV1 {
		c.zone = s.cfg.zone
	}
	s.mu.Lock()
	var out outcome
	if spec.write != nil {
		out = spec.write(s, c, objects)
	} else {
		out = spec.read(s, c)
	}
	s.stats.objectsWritten += out.written
	s.mu.Unlock()
	rec.Codes = out.codes
	rec.Notes = c.notes

	if fault == FaultDropAfterCommit {
		s.record(rec)
		simkit.HangUp(w)
		return
	}
	if fault == FaultMalformedAfterCommit {
		contentType, body := malformedBody(FaultMalformedJSON, env.method)
		s.replyText(w, &rec, http.StatusOK, contentType, body)
		return
	}
	if fault == FaultTimeoutAfterCommit {
		s.faults.Unanswered(w, r, d, func() { s.record(rec) }) // applied; the client gave up, or cap passed or Close
		return
	}
	rec.HTTPStatus = http.StatusOK
	s.record(rec)
	reply := responseBody(out.result, out.errJSON, env.id)
	if out.hasMore != nil {
		// getClients and a few list methods also carry hasMore at the top
		// level (spec §1.4, §7.15).
		var o object
		o.add("result", orNull(out.result))
		o.add("hasMore", marshal(*out.hasMore))
		o.add("error", orNull(out.errJSON))
		o.add("id", orNull(env.id))
		reply = o.bytes()
	}
	writeJSON(w, reply)
}

// objectsParam extracts params.objects for write methods: missing → 207,
// not a list → 208, more than MaxObjects → 209 (nothing applied).
func (s *Server) objectsParam(spec methodSpec, params map[string]json.RawMessage) ([]json.RawMessage, *apiError) {
	if spec.write == nil {
		return nil, nil
	}
	raw, ok := params["objects"]
	if !ok || isNull(raw) {
		return nil, newError(CodeMissingObjects)
	}
	var objects []json.RawMessage
	if err := json.Unmarshal(raw, &objects); err != nil {
		return nil, newError(CodeMalformedObject)
	}
	if len(objects) > s.cfg.maxObjects {
		return objects, newError(CodeTooManyObjects)
	}
	return objects, nil
}

// replyError answers HTTP 200 with an API-level error object.
func (s *Server) replyError(w http.ResponseWriter, rec *LoggedRequest, id []byte, e *apiError) {
	rec.HTTPStatus = http.StatusOK
	rec.Codes = []int{e.Code}
	s.record(*rec)
	writeJSON(w, responseBody(nil, marshal(e), id))
}

// replyText answers a non-JSON body (401, 405, 5xx, 502, a malformed
// answer).
func (s *Server) replyText(w http.ResponseWriter, rec *LoggedRequest, status int, contentType, body string) {
	rec.HTTPStatus = status
	s.record(*rec)
	simkit.Reply(w, status, contentType, []byte(body))
}

func writeJSON(w http.ResponseWriter, body []byte) {
	simkit.Reply(w, http.StatusOK, simkit.ContentJSON, body)
}

// fullURL is the request URL as the client wrote it; the Expect rule counts
// its length, secret key included (assumption: "scheme://host" + request
// URI is what the front end measures).
func fullURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

const html502 = `<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <title>Error 502 (Server Error)!!1</title>
  <p><b>502.</b> <ins>That’s an error.</ins>
  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>
`

func htmlServerError(status int) string {
	text := http.StatusText(status)
	return "<!DOCTYPE html>\n<html><head><title>" + text + "</title></head><body><h1>" + text + "</h1></body></html>\n"
}

// objResult is one entry of a write result.
type objResult struct {
	ok    bool
	id    int64
	hasID bool // create results carry the new id as a JSON number
	// silent marks a success that wrote nothing; it is not counted in
	// Stats.ObjectsWritten.
	silent bool
	err    *apiError
}

func failed(e *apiError) objResult { return objResult{err: e} }

// writeEach answers a write method: one decides the result of each object
// (i is its index in objects); an element that is not a JSON object fails
// with CodeMalformedObject without reaching one. key is the result's key
// ("creates", "updates", "deletes").
func (s *Server) writeEach(key string, objects []json.RawMessage, one func(i int, obj map[string]any) objResult) outcome {
	results := make([]objResult, len(objects))
	written := 0
	for i, raw := range objects {
		obj, ok := decodeObject(raw)
		if !ok {
			results[i] = failed(newError(CodeMalformedObject))
			continue
		}
		results[i] = one(i, obj)
		if results[i].ok && !results[i].silent {
			written++
		}
	}
	return s.writeOutcome(key, results, written)
}

// writeOutcome builds {"<key>":[…]} with "error": [] on success, or the
// array of copies of each failed object's error (null with
// PartialErrorNull).
func (s *Server) writeOutcome(key string, results []objResult, written int) outcome {
	items := make([][]byte, len(results))
	var errs [][]byte
	var codes []int
	for i, r := range results {
		var o object
		if r.ok {
			o.add("success", []byte("true"))
			o.add("error", []byte("null"))
			if r.hasID {
				o.add("id", marshal(r.id))
			}
		} else {
			e := marshal(r.err)
			o.add("success", []byte("false"))
			o.add("error", e)
			errs = append(errs, e)
			codes = append(codes, r.err.Code)
		}
		items[i] = o.bytes()
	}
	var result object
	result.add(key, array(items))
	out := outcome{result: result.bytes(), errJSON: []byte("[]"), codes: codes, written: written}
	if len(errs) > 0 {
		out.errJSON = array(errs)
		if s.cfg.partialErrorNull {
			out.errJSON = nil
		}
	}
	return out
}

// readOutcome builds {"<key>":[…]} with "error": null.
func readOutcome(key string, items [][]byte) outcome {
	var result object
	result.add(key, array(items))
	return outcome{result: result.bytes()}
}

// failOutcome is an API-level error: "result": null and one error object.
func failOutcome(e *apiError) outcome {
	return outcome{errJSON: marshal(e), codes: []int{e.Code}}
}
