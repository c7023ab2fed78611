package getleadsim

import "time"

// windowStats records, per credential, the most requests in one UTC second
// and in any sliding one-second window (requests in (t-1s, t]). It counts
// every authenticated request, the ones refused with 429 included, so a
// test can prove a client never sent more than a limit allows. Guarded by
// Server.mu.
type windowStats struct {
	fixed                map[string]fixedWindow
	sliding              map[string][]time.Time
	maxFixed, maxSliding int
}

type fixedWindow struct {
	second int64 // Unix second of count
	count  int
}

func (w *windowStats) reset() {
	*w = windowStats{fixed: map[string]fixedWindow{}, sliding: map[string][]time.Time{}}
}

// add counts one request of the credential key at now.
func (w *windowStats) add(key string, now time.Time) {
	sec := now.Unix()
	fw := w.fixed[key]
	if fw.second != sec || fw.count == 0 {
		fw = fixedWindow{second: sec}
	}
	fw.count++
	w.fixed[key] = fw
	w.maxFixed = max(w.maxFixed, fw.count)

	win := w.sliding[key]
	cut := now.Add(-time.Second)
	i := 0
	for i < len(win) && !win[i].After(cut) {
		i++
	}
	win = append(win[i:], now)
	w.sliding[key] = win
	w.maxSliding = max(w.maxSliding, len(win))
}
