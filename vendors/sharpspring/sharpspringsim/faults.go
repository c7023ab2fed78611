package sharpspringsim

import (
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Faults are random faults applied to requests that passed authentication,
// the rate limits and envelope checks. Rates are probabilities in [0, 1]
// per request. One number is drawn per request and compared with the rates
// in the order the fields are listed, so at most one fault applies; when
// the rates add up to more than 1 the later ones fire less often than
// their rate. The zero value injects nothing.
//
// Only DropAfterCommitRate applies the request. Every other fault leaves
// the data untouched, a malformed answer to a write included, so a client
// that retries any of them does no harm.
type Faults struct {
	Method string // only this method (faults and Latency); "" = all methods

	// ServerErrorRate answers HTTP 500 or 503 (even odds) with an HTML
	// body; nothing is applied.
	ServerErrorRate float64
	// ServerErrorBurst models an outage: once a 5xx is drawn, the next
	// ServerErrorBurst-1 requests in scope get the same status without a
	// draw. 0 and 1 mean single errors.
	ServerErrorBurst int
	// Code999Rate answers HTTP 200 with API error 999; nothing is applied.
	Code999Rate float64
	// UnavailableRate answers HTTP 200 with API error 999 and the message
	// UnavailableMessage ("Service temporarily unavailable, try again in a
	// few minutes"); the real code was never recorded, 999 is an
	// assumption. Nothing is applied.
	UnavailableRate float64
	// RateLimitRate answers a spurious 107 (per-second limit, HTTP 200)
	// although the limit was not hit; nothing is applied.
	RateLimitRate float64
	// DropAfterCommitRate applies the request, then closes the connection
	// without a response (hijack), so the client sees a connection error
	// for a write that happened.
	DropAfterCommitRate float64
	// QuotaRate answers a spurious 106 (daily limit, HTTP 200) although
	// the quota was not used up; nothing is applied.
	QuotaRate float64
	// TimeoutRate holds the request without an answer until the client
	// gives up (its context ends), Close is called or TimeoutCap passes;
	// in the last two cases the connection is closed without a response.
	// Nothing is applied.
	TimeoutRate float64
	// TimeoutCap bounds how long a request is held by TimeoutRate or a
	// scripted FaultTimeout. Default and maximum DefaultTimeoutCap.
	TimeoutCap time.Duration
	// MalformedRate answers HTTP 200 with a body that is not a valid
	// envelope: truncated JSON (FaultMalformedJSON) or an HTML page
	// (FaultMalformedHTML), at even odds. Nothing is applied.
	MalformedRate float64
	// Latency is added before the request is processed. If the client
	// gives up first, nothing is applied.
	Latency time.Duration

	Seed int64 // seeds the random draws; same seed and request order → same faults
}

// DefaultTimeoutCap is the longest a request is held without an answer.
const DefaultTimeoutCap = simkit.DefaultTimeoutCap

// LatencyKey is the Stats.FaultsInjected key counting requests delayed by
// Faults.Latency.
const LatencyKey = simkit.LatencyKey

// Fault is one injected failure, for Script and RequestLog.
type Fault int

const (
	FaultNone            Fault = iota // no fault: the call is processed normally
	Fault500                          // HTTP 500 with an HTML body; nothing applied
	Fault999                          // HTTP 200, API error 999; nothing applied
	FaultUnavailable                  // HTTP 200, API error 999 "Service temporarily unavailable…"; nothing applied
	Fault107                          // HTTP 200, API error 107; nothing applied
	Fault106                          // HTTP 200, API error 106; nothing applied
	FaultDropAfterCommit              // applied, then the connection is closed without a response
	FaultTimeout                      // no answer until the client gives up, Close or the timeout cap; nothing applied
	Fault503                          // HTTP 503 with an HTML body; nothing applied
	FaultMalformedJSON                // HTTP 200, application/json body cut off mid-value; nothing applied
	FaultMalformedHTML                // HTTP 200, text/html page instead of JSON; nothing applied
	// FaultTimeoutAfterCommit applies the call, then answers nothing until
	// the client gives up, Close or the timeout cap: a write that timed out
	// although SharpSpring applied it. Scripted only.
	FaultTimeoutAfterCommit
	// FaultMalformedAfterCommit applies the call, then answers HTTP 200
	// with cut-off JSON, as FaultMalformedJSON does: a write that landed
	// although its answer cannot be read. Scripted only.
	FaultMalformedAfterCommit
)

// String names the fault; the names are the keys of Stats.FaultsInjected.
func (f Fault) String() string { return simkit.FaultName(faultNames[:], f) }

var faultNames = [...]string{"none", "http500", "code999", "unavailable", "code107", "code106", "dropAfterCommit", "timeout",
	"http503", "malformedJSON", "malformedHTML", "timeoutAfterCommit", "malformedAfterCommit"}

// SetFaults replaces the random faults, reseeds their generator and ends
// any server-error burst in progress.
func (s *Server) SetFaults(f Faults) {
	s.faults.Set(simkit.Policy[Fault]{
		Scope: f.Method,
		Rates: []simkit.Rate[Fault]{
			{P: f.ServerErrorRate, Fault: Fault500, Or: Fault503, Bursts: true},
			{P: f.Code999Rate, Fault: Fault999},
			{P: f.UnavailableRate, Fault: FaultUnavailable},
			{P: f.RateLimitRate, Fault: Fault107},
			{P: f.DropAfterCommitRate, Fault: FaultDropAfterCommit},
			{P: f.QuotaRate, Fault: Fault106},
			{P: f.TimeoutRate, Fault: FaultTimeout},
			{P: f.MalformedRate, Fault: FaultMalformedJSON, Or: FaultMalformedHTML},
		},
		Burst: f.ServerErrorBurst, Latency: f.Latency, TimeoutCap: f.TimeoutCap, Seed: f.Seed,
	})
}

// Script queues one-shot faults for the next calls of method, in order,
// after any already queued. A queued FaultNone lets one call through
// untouched by the script (random faults from SetFaults may still apply).
// Only calls that reach the method (valid credentials, within limits, valid
// envelope) consume the queue. Scripted faults neither start nor use up a
// server-error burst.
func (s *Server) Script(method string, faults ...Fault) {
	s.faults.Script(method, faults...)
}

// malformedBody is the answer of FaultMalformedJSON and FaultMalformedHTML:
// the start of a plausible answer to method, cut off mid-value, or an HTML
// page such as a proxy in front of the API might send.
func malformedBody(f Fault, method string) (contentType, body string) {
	if f == FaultMalformedHTML {
		return simkit.ContentHTML, simkit.HTMLNotice
	}
	switch {
	case strings.HasPrefix(method, "create"):
		return "application/json", `{"result":{"creates":[{"success":true,"error":null,"id":880385`
	case strings.HasPrefix(method, "update"), strings.HasPrefix(method, "enable"), strings.HasPrefix(method, "disable"):
		return "application/json", `{"result":{"updates":[{"success":tr`
	case strings.HasPrefix(method, "delete"):
		return "application/json", `{"result":{"deletes":[{"succ`
	}
	return "application/json", `{"result":{"lead":[{"id":"88038560770","accountID":null,"ownerID":"31`
}
