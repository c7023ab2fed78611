package getleadsim

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is one injected failure, queued with Script or drawn by SetFaults.
type Fault int

// Faults. None of them applies the request, except FaultDropAfterCommit.
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
)

// String names the fault; the names are the keys of Stats.FaultsInjected.
func (f Fault) String() string {
	names := [...]string{"none", "http500", "http503", "http429RetryAfter", "dropAfterCommit", "timeout",
		"http429", "malformedJSON", "malformedHTML"}
	if f < 0 || int(f) >= len(names) {
		return "fault(?)"
	}
	return names[f]
}

// ScriptedRetryAfter is the retry_after (seconds) of a scripted Fault429
// when Faults.RetryAfter is 0.
const ScriptedRetryAfter = 7

// DefaultTimeoutCap is the longest a request is held without an answer.
const DefaultTimeoutCap = 2 * time.Minute

// LatencyKey is the Stats.FaultsInjected key counting requests delayed by
// Faults.Latency.
const LatencyKey = "latency"

// Faults are random faults applied to authenticated requests within the V3
// rate limit, on both APIs. Rates are probabilities per request in [0, 1].
// One number is drawn per request and compared with the rates in the order
// listed, so at most one fault applies; when the rates add up to more than
// 1 the later ones fire less often than their rate. The zero value injects
// nothing.
//
// Only DropAfterCommitRate applies the request. Every other fault leaves
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
	defer s.mu.Unlock()
	s.faults = f
	s.faultRand = rand.New(rand.NewPCG(uint64(f.Seed), 0x61ead))
	s.burst = burst{}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[endpoint] = append(s.scripts[endpoint], faults...)
}

// burst is a server-error outage in progress: left more requests in scope
// get fault.
type burst struct {
	fault Fault
	left  int
}

// draw is the fault decision for one call.
type draw struct {
	fault      Fault
	latency    time.Duration // delay before anything else
	hold       time.Duration // how long FaultTimeout holds the request
	retryAfter int           // seconds, for Fault429
}

// nextFault picks the fault of one call: the next scripted one, else the
// rest of a server-error burst, else a random draw. Caller holds s.mu.
func (s *Server) nextFault(endpoint string) draw {
	fl := s.faults
	d := draw{hold: DefaultTimeoutCap, retryAfter: ScriptedRetryAfter}
	if fl.TimeoutCap > 0 && fl.TimeoutCap < DefaultTimeoutCap {
		d.hold = fl.TimeoutCap
	}
	if fl.RetryAfter > 0 {
		d.retryAfter = max(1, int((fl.RetryAfter+time.Second-1)/time.Second))
	}
	if q := s.scripts[endpoint]; len(q) > 0 {
		d.fault = q[0]
		if len(q) == 1 {
			delete(s.scripts, endpoint)
		} else {
			s.scripts[endpoint] = q[1:]
		}
	}
	if fl.Endpoint != "" && fl.Endpoint != endpoint {
		return d
	}
	d.latency = fl.Latency
	if d.fault != FaultNone {
		return d
	}
	if s.burst.left > 0 {
		s.burst.left--
		d.fault = s.burst.fault
		return d
	}
	rates := []struct {
		rate float64
		f    Fault
	}{
		{fl.RateLimitRate, Fault429}, {fl.ServerErrorRate, Fault500}, {fl.DropAfterCommitRate, FaultDropAfterCommit},
		{fl.TimeoutRate, FaultTimeout}, {fl.MalformedRate, FaultMalformedJSON},
	}
	total := 0.0
	for _, r := range rates {
		total += r.rate
	}
	if total <= 0 {
		return d
	}
	x := s.faultRand.Float64()
	for _, r := range rates {
		if x >= r.rate {
			x -= r.rate
			continue
		}
		d.fault = r.f
		switch r.f {
		case Fault429:
			if fl.RetryAfter <= 0 {
				d.fault = Fault429NoRetryAfter
			}
		case Fault500:
			if s.faultRand.IntN(2) == 1 {
				d.fault = Fault503
			}
			if fl.ServerErrorBurst > 1 {
				s.burst = burst{fault: d.fault, left: fl.ServerErrorBurst - 1}
			}
		case FaultMalformedJSON:
			if s.faultRand.IntN(2) == 1 {
				d.fault = FaultMalformedHTML
			}
		}
		return d
	}
	return d
}

// countFault counts one injected fault (or LatencyKey) in Stats.
func (s *Server) countFault(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.faults[key]++
}

// inject delays the request and answers d's fault. It reports false when
// the handler must go on: no fault, or FaultDropAfterCommit, which the
// handler applies first.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, rec *LoggedRequest, d draw) bool {
	rec.Fault = d.fault
	if d.latency > 0 {
		s.countFault(LatencyKey)
		if !s.wait(r.Context(), d.latency) {
			if r.Context().Err() == nil {
				s.hangUp(w) // Close: nothing applied, nothing sent
			}
			return true
		}
	}
	if d.fault != FaultNone {
		s.countFault(d.fault.String())
	}
	switch d.fault {
	case Fault500, Fault503:
		status := http.StatusInternalServerError
		if d.fault == Fault503 {
			status = http.StatusServiceUnavailable
		}
		s.count(status)
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body><h1>" + http.StatusText(status) + "</h1></body></html>\n"))
	case Fault429:
		s.tooMany(w, d.retryAfter)
	case Fault429NoRetryAfter:
		s.tooMany(w, 0)
	case FaultMalformedJSON, FaultMalformedHTML:
		contentType, body := malformedBody(d.fault, rec.API, rec.Endpoint)
		s.count(http.StatusOK)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(body))
	case FaultTimeout:
		s.wait(r.Context(), d.hold)
		if r.Context().Err() == nil {
			s.hangUp(w) // cap passed or Close: still no answer
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
		return "text/html; charset=UTF-8", htmlNotice
	case api == APIClassic:
		return "application/json", `{"status":"success","message":"Lead Ad`
	case endpoint == "leads.list":
		return "application/json", `{"data":[{"lead_id":"01J`
	case strings.HasPrefix(endpoint, "leads."):
		return "application/json", `{"data":{"lead_id":"01J`
	}
	return "application/json", `{"data":{"statuses":[{"id":1,"na`
}

const htmlNotice = `<!DOCTYPE html>
<html><head><title>Service notice</title></head>
<body><h1>We'll be right back</h1><p>The service is being updated. Please try again shortly.</p></body></html>
`
