package simkit

import "time"

// Peaks records, per credential, the most requests in one UTC second and in
// any sliding one-second window (requests in (t-1s, t]). A simulator adds
// every authenticated request, the ones it refuses for a limit included,
// so a test can prove a client never sent more than a limit allows. The
// zero value is ready to use; it is not safe for concurrent use.
type Peaks struct {
	fixed                map[string]second
	sliding              map[string][]time.Time
	maxFixed, maxSliding int
}

// second counts the requests of one credential in one UTC second.
type second struct {
	unix  int64
	count int
}

// Add counts one request of the credential key at now.
func (p *Peaks) Add(key string, now time.Time) {
	if p.fixed == nil {
		p.fixed, p.sliding = map[string]second{}, map[string][]time.Time{}
	}
	sec := now.Unix()
	fw := p.fixed[key]
	if fw.unix != sec || fw.count == 0 {
		fw = second{unix: sec}
	}
	fw.count++
	p.fixed[key] = fw
	p.maxFixed = max(p.maxFixed, fw.count)

	win := p.sliding[key]
	cut := now.Add(-time.Second)
	i := 0
	for i < len(win) && !win[i].After(cut) {
		i++
	}
	win = append(win[i:], now)
	p.sliding[key] = win
	p.maxSliding = max(p.maxSliding, len(win))
}

// MaxInFixedSecond is the most requests of one credential in one UTC second.
func (p *Peaks) MaxInFixedSecond() int { return p.maxFixed }

// MaxInSlidingSecond is the most requests of one credential in any sliding
// one-second window.
func (p *Peaks) MaxInSlidingSecond() int { return p.maxSliding }

// Window is a sliding-window request limit: at most Limit requests in any
// window of length Per, measured on the caller's clock. Refused requests
// do not count against the window. It is not safe for concurrent use.
type Window struct {
	Limit int           // requests per window; ≤ 0: no limit
	Per   time.Duration // window length; ≤ 0: no limit

	arrivals []time.Time // accepted requests less than Per before the last call
}

// Allow reports whether a request at now is within the limit, and counts it
// when it is.
func (w *Window) Allow(now time.Time) bool {
	if w.Limit <= 0 || w.Per <= 0 {
		return true
	}
	i := 0
	for i < len(w.arrivals) && now.Sub(w.arrivals[i]) >= w.Per {
		i++
	}
	w.arrivals = w.arrivals[i:]
	if len(w.arrivals) >= w.Limit {
		return false
	}
	w.arrivals = append(w.arrivals, now)
	return true
}
