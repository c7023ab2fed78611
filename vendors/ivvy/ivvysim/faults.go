package ivvysim

import (
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Fault is one injected failure.
type Fault int

// Faults the simulator can inject. Each is applied after authentication
// and the RateLimitPerSecond limiter. Only FaultDropAfterCommit applies the
// request.
const (
	FaultNone            Fault = iota // process normally
	Fault429                          // HTTP 429 Too Many Requests error body, no Retry-After; nothing applied
	Fault500                          // HTTP 500 error body; nothing applied
	Fault503                          // HTTP 503 with an HTML body; nothing applied
	FaultDropAfterCommit              // applied, then the connection is closed without an answer
	FaultTimeout                      // no answer until the client gives up, Close or the timeout cap; nothing applied
	Fault429RetryAfter                // as Fault429 with a Retry-After header (seconds); nothing applied
	FaultMalformedJSON                // HTTP 200, application/json body cut off mid-value; nothing applied
	FaultMalformedHTML                // HTTP 200, text/html page instead of JSON; nothing applied
)

// String names the fault; the names are the keys of Stats.FaultsInjected.
func (f Fault) String() string { return simkit.FaultName(faultNames[:], f) }

var faultNames = [...]string{"none", "http429", "http500", "http503", "dropAfterCommit", "timeout",
	"http429RetryAfter", "malformedJSON", "malformedHTML"}

// ScriptedRetryAfter is the Retry-After (seconds) of a scripted
// Fault429RetryAfter when Faults.RetryAfter is 0.
const ScriptedRetryAfter = 7

// DefaultTimeoutCap is the longest a request is held without an answer.
const DefaultTimeoutCap = simkit.DefaultTimeoutCap

// LatencyKey is the Stats.FaultsInjected key counting requests delayed by
// Faults.Latency.
const LatencyKey = simkit.LatencyKey

// Faults are random faults; rates are probabilities per request in [0, 1].
// One number is drawn per request and compared with the rates in the order
// listed, so at most one fault applies; when the rates add up to more than
// 1 the later ones fire less often than their rate. The zero value injects
// nothing.
//
// Only DropAfterCommitRate applies the request. Every other fault leaves
// the data untouched, a malformed answer to a write included, so a client
// that retries any of them does no harm.
type Faults struct {
	Action string // "namespace.action" only; "" = every action

	// RateLimitRate answers HTTP 429 with iVvy's error body; nothing is
	// applied. RetryAfter decides the header.
	RateLimitRate float64
	// RetryAfter is sent as a Retry-After header (whole seconds, rounded
	// up) on 429s drawn by RateLimitRate, and on a scripted
	// Fault429RetryAfter (default ScriptedRetryAfter). 0: no header, as
	// iVvy documents none.
	RetryAfter time.Duration
	// ServerErrorRate answers 500 (JSON error body) or 503 (HTML) at even
	// odds; nothing is applied.
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
	// Latency delays every request in scope before anything else; if the
	// client gives up first, nothing is applied. Scripted faults are not
	// delayed.
	Latency time.Duration

	Seed int64 // seeds the draws; same seed and request order → same faults
}

// SetFaults replaces the random faults, reseeds their generator and ends
// any server-error burst in progress.
func (s *Server) SetFaults(f Faults) {
	tooMany := Fault429
	if f.RetryAfter > 0 {
		tooMany = Fault429RetryAfter
	}
	s.faults.Set(simkit.Policy[Fault]{
		Scope: f.Action,
		Rates: []simkit.Rate[Fault]{
			{P: f.RateLimitRate, Fault: tooMany},
			{P: f.ServerErrorRate, Fault: Fault500, Or: Fault503, Bursts: true},
			{P: f.DropAfterCommitRate, Fault: FaultDropAfterCommit},
			{P: f.TimeoutRate, Fault: FaultTimeout},
			{P: f.MalformedRate, Fault: FaultMalformedJSON, Or: FaultMalformedHTML},
		},
		Burst: f.ServerErrorBurst, Latency: f.Latency, TimeoutCap: f.TimeoutCap, RetryAfter: f.RetryAfter, Seed: f.Seed,
	})
}

// Script queues one-shot faults for the next calls of action
// ("namespace.action", e.g. "contact.addOrUpdateLead"), in order. Only
// authenticated calls within the rate limit consume the queue. Scripted
// faults neither start nor use up a server-error burst.
func (s *Server) Script(action string, faults ...Fault) {
	s.faults.Script(action, faults...)
}

// nextFault picks the fault of one call: the next scripted one, else the
// rest of a server-error burst, else a random draw. Scripted faults are not
// delayed by Faults.Latency.
func (s *Server) nextFault(action string) simkit.Decision[Fault] {
	d := s.faults.Next(action)
	if d.Scripted {
		d.Latency = 0
	}
	return d
}

// malformedBody is the answer of FaultMalformedJSON and FaultMalformedHTML:
// the start of a plausible answer to action, cut off mid-value, or an HTML
// page such as a proxy in front of the API might send.
func malformedBody(f Fault, action string) (contentType, body string) {
	if f == FaultMalformedHTML {
		return simkit.ContentHTML, simkit.HTMLNotice
	}
	_, a, _ := strings.Cut(action, ".")
	switch {
	case strings.HasPrefix(a, "addOrUpdate"):
		return "application/json", `{"success":true,"id":50`
	case strings.HasPrefix(a, "get"):
		return "application/json", `{"meta":{"totalResults":12,"start":0,"perPage":20,"count":12},"results":[{"id":33`
	}
	return "application/json", `{"ack":"2026-`
}
