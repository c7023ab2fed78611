package sharpspringsim

import (
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// usage is one account's position in the rate-limit windows. The windows
// are fixed: the per-second counter resets at every UTC second boundary and
// the daily counter at 00:00 UTC (the real reset time of the daily quota is
// undocumented; UTC midnight is an assumption). Every authenticated request
// counts, including ones answered 106/107, since the vendor does not say
// rejected calls are free.
type usage struct {
	second      int64 // Unix second of secondCount
	secondCount int
	day         int64 // Unix day (UTC) of dayCount
	dayCount    int
}

// countRequest counts an authenticated request in the limiter and in the
// statistics. Caller holds s.mu.
func (s *Server) countRequest(account, method string, now time.Time) {
	u := s.usage[account]
	if u == nil {
		u = &usage{}
		s.usage[account] = u
	}
	sec := floorDiv(now.Unix(), 1)
	if u.second != sec || u.secondCount == 0 {
		u.second, u.secondCount = sec, 0
	}
	u.secondCount++
	day := floorDiv(now.Unix(), 24*60*60)
	if u.day != day || u.dayCount == 0 {
		u.day, u.dayCount = day, 0
	}
	u.dayCount++

	st := &s.stats
	st.requests++
	if method != "" {
		st.byMethod[method]++
	}
	st.windows.Add(account, now)
}

// checkLimits returns 106 or 107 when the account is over a limit, else 0.
// The daily limit wins when both are exceeded. Caller holds s.mu.
func (s *Server) checkLimits(account string) int {
	u := s.usage[account]
	if s.cfg.daily > 0 && u.dayCount > s.cfg.daily {
		return CodeDailyLimit
	}
	if s.cfg.ratePerSecond > 0 && u.secondCount > s.cfg.ratePerSecond {
		return CodeSecondLimit
	}
	return 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// statsState accumulates Stats; guarded by Server.mu.
type statsState struct {
	requests       int
	byMethod       map[string]int
	errorsByCode   map[int]int
	httpStatus     map[int]int
	objectsWritten int
	rejected107    int
	rejected106    int
	dropped        int
	windows        simkit.Peaks
}

func (st *statsState) reset() {
	*st = statsState{
		byMethod:     make(map[string]int),
		errorsByCode: make(map[int]int),
		httpStatus:   make(map[int]int),
	}
}

// record appends rec to the request log and counts what was sent back.
// It runs before the response is written, so a client that got an answer
// always finds it in Stats and RequestLog.
func (s *Server) record(rec LoggedRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	switch {
	case rec.HTTPStatus == 0:
		if rec.Fault == FaultDropAfterCommit {
			st.dropped++
		}
	case rec.HTTPStatus == 200:
		for _, c := range rec.Codes {
			st.errorsByCode[c]++
			switch c {
			case CodeSecondLimit:
				st.rejected107++
			case CodeDailyLimit:
				st.rejected106++
			}
		}
	default:
		st.httpStatus[rec.HTTPStatus]++
	}
	s.log.Add(rec)
}
