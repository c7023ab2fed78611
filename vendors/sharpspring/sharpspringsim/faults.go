package sharpspringsim

import (
	"math/rand/v2"
	"time"
)

// Faults are random faults applied to requests that passed authentication,
// the rate limits and envelope checks. Rates are probabilities in [0, 1]
// per request; at most one fault is drawn per request, in the order the
// fields are listed. The zero value injects nothing.
type Faults struct {
	Method string // only this method; "" = all methods

	// ServerErrorRate answers HTTP 500 or 503 (even odds) with an HTML
	// body; nothing is applied.
	ServerErrorRate float64
	// Code999Rate answers HTTP 200 with API error 999; nothing is applied.
	Code999Rate float64
	// UnavailableRate answers HTTP 200 with API error 999 and the message
	// UnavailableMessage ("Service temporarily unavailable, try again in a
	// few minutes"); the real code was never recorded, 999 is an
	// assumption. Nothing is applied.
	UnavailableRate float64
	// RateLimitRate answers a spurious 107 although the limit was not hit.
	RateLimitRate float64
	// Latency is added before the request is processed. If the client
	// gives up first, nothing is applied.
	Latency time.Duration
	// DropAfterCommitRate applies the request, then closes the connection
	// without a response (hijack), so the client sees a connection error
	// for a write that happened.
	DropAfterCommitRate float64

	Seed int64 // seeds the random draws; same seed and request order → same faults
}

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
	FaultTimeout                      // no answer until the client gives up or Server.Close; nothing applied
	Fault503                          // HTTP 503 with an HTML body; nothing applied
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case Fault500:
		return "http500"
	case Fault999:
		return "code999"
	case FaultUnavailable:
		return "unavailable"
	case Fault107:
		return "code107"
	case Fault106:
		return "code106"
	case FaultDropAfterCommit:
		return "dropAfterCommit"
	case FaultTimeout:
		return "timeout"
	case Fault503:
		return "http503"
	}
	return "fault(?)"
}

// SetFaults replaces the random faults and reseeds their generator.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.faultRand = rand.New(rand.NewPCG(uint64(f.Seed), 0x5a17))
}

// Script queues one-shot faults for the next calls of method, in order,
// after any already queued. A queued FaultNone lets one call through
// untouched by the script (random faults from SetFaults may still apply).
// Only calls that reach the method (valid credentials, within limits, valid
// envelope) consume the queue.
func (s *Server) Script(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[method] = append(s.scripts[method], faults...)
}

// nextFault picks the fault for one call: the next scripted one, else a
// random draw. Caller holds s.mu.
func (s *Server) nextFault(method string) (Fault, time.Duration) {
	f := FaultNone
	if q := s.scripts[method]; len(q) > 0 {
		f = q[0]
		if len(q) == 1 {
			delete(s.scripts, method)
		} else {
			s.scripts[method] = q[1:]
		}
	}
	fl := s.faults
	if fl.Method != "" && fl.Method != method {
		return f, 0
	}
	if f != FaultNone {
		return f, fl.Latency
	}
	rates := []struct {
		rate  float64
		fault Fault
	}{
		{fl.ServerErrorRate, Fault500},
		{fl.Code999Rate, Fault999},
		{fl.UnavailableRate, FaultUnavailable},
		{fl.RateLimitRate, Fault107},
		{fl.DropAfterCommitRate, FaultDropAfterCommit},
	}
	total := 0.0
	for _, r := range rates {
		total += r.rate
	}
	if total <= 0 {
		return FaultNone, fl.Latency
	}
	x := s.faultRand.Float64()
	for _, r := range rates {
		if x < r.rate {
			if r.fault == Fault500 && s.faultRand.IntN(2) == 1 {
				return Fault503, fl.Latency
			}
			return r.fault, fl.Latency
		}
		x -= r.rate
	}
	return FaultNone, fl.Latency
}
