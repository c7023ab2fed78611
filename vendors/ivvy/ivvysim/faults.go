package ivvysim

import (
	"math/rand/v2"
	"time"
)

// Fault is one injected failure.
type Fault int

// Faults the simulator can inject. Each is applied after authentication.
const (
	FaultNone            Fault = iota // process normally
	Fault429                          // HTTP 429 Too Many Requests error body; nothing applied
	Fault500                          // HTTP 500 error body; nothing applied
	Fault503                          // HTTP 503 with an HTML body; nothing applied
	FaultDropAfterCommit              // applied, then the connection is closed without an answer
	FaultTimeout                      // no answer until the client gives up or Close; nothing applied
)

func (f Fault) String() string {
	return [...]string{"none", "http429", "http500", "http503", "dropAfterCommit", "timeout"}[f]
}

// Faults are random faults; rates are probabilities per request in [0, 1],
// drawn in the order listed (at most one per request). The zero value
// injects nothing.
type Faults struct {
	Action              string // "namespace.action" only; "" = every action
	RateLimitRate       float64
	ServerErrorRate     float64 // 500 or 503 at even odds
	DropAfterCommitRate float64
	Latency             time.Duration
	Seed                int64
}

// SetFaults replaces the random faults and reseeds their generator.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.faultRand = rand.New(rand.NewPCG(uint64(f.Seed), 0x1e55))
}

// Script queues one-shot faults for the next calls of action
// ("namespace.action", e.g. "contact.addOrUpdateLead"), in order. Only
// authenticated calls consume the queue.
func (s *Server) Script(action string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[action] = append(s.scripts[action], faults...)
}

// nextFault picks the fault of one call. Caller holds s.mu.
func (s *Server) nextFault(action string) (Fault, time.Duration) {
	if q := s.scripts[action]; len(q) > 0 {
		s.scripts[action] = q[1:]
		if len(q) == 1 {
			delete(s.scripts, action)
		}
		if q[0] != FaultNone {
			return q[0], 0
		}
	}
	fl := s.faults
	if fl.Action != "" && fl.Action != action {
		return FaultNone, 0
	}
	x := s.faultRand.Float64()
	for _, r := range []struct {
		rate float64
		f    Fault
	}{{fl.RateLimitRate, Fault429}, {fl.ServerErrorRate, Fault500}, {fl.DropAfterCommitRate, FaultDropAfterCommit}} {
		if x < r.rate {
			if r.f == Fault500 && s.faultRand.IntN(2) == 1 {
				return Fault503, fl.Latency
			}
			return r.f, fl.Latency
		}
		x -= r.rate
	}
	return FaultNone, fl.Latency
}
