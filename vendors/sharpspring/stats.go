package sharpspring

import (
	"strconv"
	"sync"
)

// callStats counts requests by method and answers by error code.
type callStats struct {
	mu       sync.Mutex
	byMethod map[string]int64
	byCode   map[string]int64
}

func (s *callStats) request(method string) {
	s.mu.Lock()
	if s.byMethod == nil {
		s.byMethod = map[string]int64{}
	}
	s.byMethod[method]++
	s.mu.Unlock()
}

// failure counts an answer that was not a success: SharpSpring's code, or
// "http-<status>", or "transport".
func (s *callStats) failure(err error) {
	code := "transport"
	if e, ok := err.(*Error); ok {
		switch {
		case e.Code != 0:
			code = strconv.Itoa(e.Code)
		case e.HTTPStatus != 0:
			code = "http-" + strconv.Itoa(e.HTTPStatus)
		case e.Message != "" && len(e.Message) > 9 && e.Message[:9] == "malformed":
			code = "malformed"
		}
	}
	s.mu.Lock()
	if s.byCode == nil {
		s.byCode = map[string]int64{}
	}
	s.byCode[code]++
	s.mu.Unlock()
}

// Stats returns the requests sent by method and the error answers by code
// (API-level and per-object), since the client was made.
func (c *Client) Stats() (requests, errors map[string]int64) {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	requests = make(map[string]int64, len(c.stats.byMethod))
	for k, v := range c.stats.byMethod {
		requests[k] = v
	}
	errors = make(map[string]int64, len(c.stats.byCode))
	for k, v := range c.stats.byCode {
		errors[k] = v
	}
	return requests, errors
}
