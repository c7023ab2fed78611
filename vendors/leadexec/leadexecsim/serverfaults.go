package leadexecsim

import (
	"net/http"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

type faultKind int

const (
	faultNone      faultKind = iota
	faultStatus              // answer status, apply nothing
	faultRateLimit           // answer 429, apply nothing
	faultDrop                // apply, then close the connection without an answer
	faultMalformed           // apply, then answer a truncated body
)

type simFault struct {
	kind       faultKind
	status     int
	retryAfter time.Duration
}

// rateLimit is an endpoint's sliding-window request limit on the
// simulator's clock and the Retry-After of its 429s.
type rateLimit struct {
	simkit.Window
	retryAfter time.Duration
}

// FailNext makes the next n requests to ep (EndpointAny: to any endpoint)
// answer status (default 500) without applying anything. ASMX endpoints
// answer a plain-text .NET exception, the others an ASP.NET error body;
// 502–504 answer an IIS HTML page.
func (s *Server) FailNext(ep Endpoint, n, status int) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	s.script(ep, n, simFault{kind: faultStatus, status: status})
}

// RateLimitNext makes the next n requests to ep answer 429, with a
// Retry-After header of retryAfter (rounded up to seconds) when it is
// positive and none otherwise. Nothing is applied.
func (s *Server) RateLimitNext(ep Endpoint, n int, retryAfter time.Duration) {
	s.script(ep, n, simFault{kind: faultRateLimit, retryAfter: retryAfter})
}

// DropAfterCommit makes the next n requests to ep take effect (a lead is
// stored, a client saved, a token issued) and then closes the connection
// without an answer: an in-doubt write.
func (s *Server) DropAfterCommit(ep Endpoint, n int) {
	s.script(ep, n, simFault{kind: faultDrop})
}

// MalformNext makes the next n requests to ep take effect and then answer
// with the body cut in half and a stray "<!--" appended (status and
// Content-Type unchanged).
func (s *Server) MalformNext(ep Endpoint, n int) {
	s.script(ep, n, simFault{kind: faultMalformed})
}

// ClearFaults drops scripted faults and rate limits.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.scripted)
	clear(s.limits)
}

func (s *Server) script(ep Endpoint, n int, f simFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.scripted.Push(ep, f)
	}
}

// SetRateLimit limits ep to limit requests per sliding window of length
// per on the simulator's clock; requests beyond it answer 429 (with
// Retry-After when retryAfter > 0) and do not count against the window.
// limit ≤ 0 removes the limit. EndpointAny is not accepted here.
func (s *Server) SetRateLimit(ep Endpoint, limit int, per, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit <= 0 || per <= 0 {
		delete(s.limits, ep)
		return
	}
	s.limits[ep] = &rateLimit{Window: simkit.Window{Limit: limit, Per: per}, retryAfter: retryAfter}
}

// takeFault picks the fault of one request. Caller holds s.mu.
func (s *Server) takeFault(ep Endpoint, now time.Time) simFault {
	for _, key := range []Endpoint{ep, EndpointAny} {
		if f, ok := s.scripted.Pop(key); ok {
			return f
		}
	}
	if l := s.limits[ep]; l != nil && !l.Allow(now) {
		return simFault{kind: faultRateLimit, retryAfter: l.retryAfter}
	}
	return simFault{}
}

// faultAnswer is the body of an injected error status, in the style of
// the endpoint.
func faultAnswer(ep Endpoint, status int) simAnswer {
	switch {
	case status >= 502 && status <= 504:
		return simAnswer{status: status, ctype: "text/html",
			body: []byte("<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>\r\n")}
	case asmxEndpoint(ep):
		return textAnswer(status, "System.Data.SqlClient.SqlException: Timeout expired.  The timeout period elapsed prior "+
			"to completion of the operation or the server is not responding.\r\n   at System.Data.SqlClient.SqlConnection.OnError()\r\n")
	}
	return apiMessage(status, "An error has occurred.")
}

func rateLimited(ep Endpoint) simAnswer {
	if asmxEndpoint(ep) {
		return textAnswer(http.StatusTooManyRequests, "Too many requests.")
	}
	return apiMessage(http.StatusTooManyRequests, "Too many requests.")
}

// malform cuts a body in half and appends an unterminated comment, so no
// XML, JSON or number parser accepts it.
func malform(b []byte) []byte {
	out := append([]byte(nil), b[:len(b)/2]...)
	return append(out, "<!--"...)
}

// asmxEndpoint reports whether ep is a method of service.asmx.
func asmxEndpoint(ep Endpoint) bool {
	switch ep {
	case EndpointGetClientList, EndpointGetClientData, EndpointGetLeadFields, EndpointEditClient:
		return true
	}
	return false
}
