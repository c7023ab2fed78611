package getleadsim

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Fault is one injected failure, queued with Script or drawn by SetFaults.
type Fault int

// Faults. None of them applies the request at once, except
// FaultDropAfterCommit; FaultLateApply applies it after the client gave up.
const (
	FaultNone            Fault = iota // the call is processed normally
	Fault500                          // HTTP 500 with an HTML body
	Fault503                          // HTTP 503 with an HTML body
	Fault429                          // HTTP 429 {"message","retry_after"} and a Retry-After header (ScriptedRetryAfter unless Faults.RetryAfter is set)
	FaultDropAfterCommit              // applied, then the connection is closed without a response
	FaultTimeout                      // no answer until the client gives up, Close or the timeout cap
	Fault429NoRetryAfter              // HTTP 429 {"message"} with neither retry_after nor Retry-After
	FaultMalformedJSON                // HTTP 200, application/json body cut off mid-value
	FaultMalformedHTML                // HTTP 200, text/html page instead of JSON
	// FaultLateApply holds a write without an answer until the client
	// gives up (or the timeout cap), then applies it later: after
	// Faults.LateAfterWrites later writes of the same lead were applied,
	// or Faults.LateDelay after the client gave up, whichever comes first.
	// On a read it is a timeout.
	FaultLateApply
)

// String names the fault; the names are the keys of Stats.FaultsInjected.
func (f Fault) String() string { return simkit.FaultName(faultNames[:], f) }

var faultNames = [...]string{"none", "http500", "http503", "http429RetryAfter", "dropAfterCommit", "timeout",
	"http429", "malformedJSON", "malformedHTML", "lateApply"}

// ScriptedRetryAfter is the retry_after (seconds) of a scripted Fault429
// when Faults.RetryAfter is 0.
const ScriptedRetryAfter = 7

// DefaultTimeoutCap is the longest a request is held without an answer.
const DefaultTimeoutCap = simkit.DefaultTimeoutCap

// DefaultLateDelay is Faults.LateDelay's default.
const DefaultLateDelay = time.Second

// LatencyKey is the Stats.FaultsInjected key counting requests delayed by
// Faults.Latency.
const LatencyKey = simkit.LatencyKey

// Faults are random faults applied to authenticated requests within the V3
// rate limit, on both APIs. Rates are probabilities per request in [0, 1].
// One number is drawn per request and compared with the rates in the order
// listed, so at most one fault applies; when the rates add up to more than
// 1 the later ones fire less often than their rate. The zero value injects
// nothing.
//
// Only DropAfterCommitRate and LateApplyRate apply the request, the first
// at once, the second after the client gave up. Every other fault leaves
// the data untouched, a malformed answer to a write included, so a client
// that retries any of them does no harm.
type Faults struct {
	// Endpoint limits the faults (and Latency) to one endpoint name as in
	// Script; "" = every endpoint of both APIs.
	Endpoint string

	// RateLimitRate answers HTTP 429 {"message": "Too Many Attempts."};
	// nothing is applied. RetryAfter decides whether it says when to retry.
	RateLimitRate float64
	// RetryAfter is sent on 429s drawn by RateLimitRate, as "retry_after"
	// (whole seconds, rounded up) in the body and as a Retry-After header;
	// it also replaces ScriptedRetryAfter for a scripted Fault429. 0: the
	// drawn 429s carry neither (Fault429NoRetryAfter).
	RetryAfter time.Duration
	// ServerErrorRate answers 500 or 503 (even odds) with an HTML body;
	// nothing is applied.
	ServerErrorRate float64
	// ServerErrorBurst models an outage: once a 5xx is drawn, the next
	// ServerErrorBurst-1 requests in scope get the same status without a
	// draw. 0 and 1 mean single errors.
	ServerErrorBurst int
	// DropAfterCommitRate applies the request, then closes the connection
	// without an answer: an in-doubt write.
	DropAfterCommitRate float64
	// TimeoutRate holds the request without an answer until the client
	// gives up (its context ends), Close is called or TimeoutCap passes;
	// in the last two cases the connection is closed without an answer.
	// Nothing is applied.
	TimeoutRate float64
	// TimeoutCap bounds how long a request is held by TimeoutRate or a
	// scripted FaultTimeout. Default and maximum DefaultTimeoutCap.
	TimeoutCap time.Duration
	// LateApplyRate holds a write without an answer, like TimeoutRate, and
	// applies it after the client gave up (FaultLateApply): an in-doubt
	// write that lands late, possibly after a newer write of the same lead
	// (LateAfterWrites, LateDelay).
	LateApplyRate float64
	// LateAfterWrites is how many later writes of the same lead are
	// applied before a held late write; default 1. A lead is matched by
	// its first number (or the number the request names, for a lead not
	// yet created).
	LateAfterWrites int
	// LateDelay applies a held late write this long after the client gave
	// up, if the later writes have not come by then; default
	// DefaultLateDelay. It also applies to a scripted FaultLateApply.
	LateDelay time.Duration
	// MalformedRate answers HTTP 200 with truncated JSON
	// (FaultMalformedJSON) or an HTML page (FaultMalformedHTML) at even
	// odds; nothing is applied.
	MalformedRate float64
	// Latency delays every request in scope, scripted faults included,
	// before anything else; if the client gives up first, nothing is
	// applied.
	Latency time.Duration

	Seed int64 // seeds the draws; same seed and request order → same faults
}

// SetFaults replaces the random faults, reseeds their generator and ends
// any server-error burst in progress.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.lateAfter, s.lateDelay = max(f.LateAfterWrites, 1), cmp.Or(f.LateDelay, DefaultLateDelay)
	s.mu.Unlock()
	tooMany := Fault429NoRetryAfter
	if f.RetryAfter > 0 {
		tooMany = Fault429
	}
	s.faults.Set(simkit.Policy[Fault]{
		Scope: f.Endpoint,
		Rates: []simkit.Rate[Fault]{
			{P: f.RateLimitRate, Fault: tooMany},
			{P: f.ServerErrorRate, Fault: Fault500, Or: Fault503, Bursts: true},
			{P: f.DropAfterCommitRate, Fault: FaultDropAfterCommit},
			{P: f.TimeoutRate, Fault: FaultTimeout},
			{P: f.MalformedRate, Fault: FaultMalformedJSON, Or: FaultMalformedHTML},
			{P: f.LateApplyRate, Fault: FaultLateApply},
		},
		Burst: f.ServerErrorBurst, Latency: f.Latency, TimeoutCap: f.TimeoutCap, RetryAfter: f.RetryAfter, Seed: f.Seed,
	})
}

// Script queues one-shot faults for the next calls of an endpoint, in order.
// Endpoint names: the classic path segment ("gl-website-contacts",
// "gl-status-change-api", "gl-note-creation-api", "gl-task-creation-api",
// "gl-deal-creation-api", "gl-department-vise-agent-assign") or a V3 name
// ("meta", "leads.list", "leads.create", "leads.get", "leads.update",
// "leads.by-identifier", "leads.notes"). Only authenticated calls within
// the rate limit consume the queue. A queued FaultNone lets one call
// through untouched by the script (random faults may still apply).
// Scripted faults neither start nor use up a server-error burst.
func (s *Server) Script(endpoint string, faults ...Fault) {
	s.faults.Script(endpoint, faults...)
}

// inject delays the request and answers d's fault. It reports false when
// the handler must go on: no fault, FaultDropAfterCommit, which the
// handler applies first, or FaultLateApply once the client gave up, which
// the handler holds (late) instead of applying.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, rec *LoggedRequest, d simkit.Decision[Fault]) bool {
	rec.Fault = d.Fault
	if !s.faults.Delay(r.Context(), d) {
		if r.Context().Err() == nil {
			s.hangUp(w) // Close: nothing applied, nothing sent
		}
		return true
	}
	switch d.Fault {
	case Fault500, Fault503:
		status := http.StatusInternalServerError
		if d.Fault == Fault503 {
			status = http.StatusServiceUnavailable
		}
		s.count(status)
		simkit.Reply(w, status, simkit.ContentHTML,
			[]byte("<!DOCTYPE html><html><body><h1>"+http.StatusText(status)+"</h1></body></html>\n"))
	case Fault429:
		s.tooMany(w, cmp.Or(d.RetryAfter, ScriptedRetryAfter))
	case Fault429NoRetryAfter:
		s.tooMany(w, 0)
	case FaultMalformedJSON, FaultMalformedHTML:
		contentType, body := malformedBody(d.Fault, rec.API, rec.Endpoint)
		s.count(http.StatusOK)
		simkit.Reply(w, http.StatusOK, contentType, []byte(body))
	case FaultTimeout, FaultLateApply:
		s.faults.Wait(r.Context(), d.Hold)
		if r.Context().Err() == nil {
			s.hangUp(w) // cap passed or Close: still no answer
		}
		if d.Fault == FaultLateApply {
			select {
			case <-s.faults.Done(): // closing: nothing is applied
			default:
				return false
			}
		}
	default:
		return false
	}
	return true
}

// tooMany answers 429; retryAfter > 0 adds "retry_after" and Retry-After.
func (s *Server) tooMany(w http.ResponseWriter, retryAfter int) {
	s.mu.Lock()
	s.stats.rateLimited++
	s.mu.Unlock()
	body := map[string]any{"message": "Too Many Attempts."}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		body["retry_after"] = retryAfter
	}
	s.writeJSON(w, http.StatusTooManyRequests, body)
}

// malformedBody is the answer of FaultMalformedJSON and FaultMalformedHTML:
// the start of a plausible answer, cut off mid-value, or an HTML page such
// as a proxy in front of the API might send.
func malformedBody(f Fault, api, endpoint string) (contentType, body string) {
	switch {
	case f == FaultMalformedHTML:
		return simkit.ContentHTML, simkit.HTMLNotice
	case api == APIClassic:
		return "application/json", `{"status":"success","message":"Lead Ad`
	case endpoint == "leads.list":
		return "application/json", `{"data":[{"lead_id":"01J`
	case strings.HasPrefix(endpoint, "leads."):
		return "application/json", `{"data":{"lead_id":"01J`
	}
	return "application/json", `{"data":{"statuses":[{"id":1,"na`
}

// late holds a write of the lead named by key, to be applied by apply
// (called with s.mu held) after the later writes or the delay of
// Faults.LateAfterWrites and LateDelay.
func (s *Server) late(key string, apply func(now time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.lateHeld++
	s.held.Hold(key, s.lateAfter, s.lateDelay, func() {
		s.stats.lateApplied++
		s.applyingLate = true
		apply(s.cfg.now().UTC())
		s.applyingLate = false
	})
}

// applied tells the held late writes that a write of the lead named by key
// was applied. Caller holds s.mu.
func (s *Server) applied(key string) {
	if key != "" {
		s.held.Applied(key)
	}
}

// leadKey names a lead for late writes: its first number when it exists,
// else the number the request names ("" when it names none).
func leadKey(l *lead, phone string) string {
	if l != nil && len(l.phones) > 0 {
		return l.phones[0]
	}
	return phone
}
