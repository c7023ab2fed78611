package kafkabus

import "time"

// idWindow remembers ids for ttl, at most max of them (the oldest are
// forgotten first). It is not safe for concurrent use; Consumer guards it.
type idWindow struct {
	ttl   time.Duration
	max   int
	at    map[string]time.Time
	queue []stamped
	head  int
}

type stamped struct {
	id string
	at time.Time
}

func newIDWindow(ttl time.Duration, max int) *idWindow {
	return &idWindow{ttl: ttl, max: max, at: map[string]time.Time{}}
}

// add remembers id as seen at now.
func (w *idWindow) add(id string, now time.Time) {
	w.at[id] = now
	w.queue = append(w.queue, stamped{id, now})
	w.prune(now)
}

// has reports whether id was seen within ttl before now.
func (w *idWindow) has(id string, now time.Time) bool {
	at, ok := w.at[id]
	return ok && now.Sub(at) < w.ttl
}

func (w *idWindow) prune(now time.Time) {
	for w.head < len(w.queue) {
		s := w.queue[w.head]
		if now.Sub(s.at) < w.ttl && len(w.at) <= w.max {
			break
		}
		if w.at[s.id].Equal(s.at) {
			delete(w.at, s.id)
		}
		w.queue[w.head] = stamped{}
		w.head++
	}
	if w.head > 1024 && w.head > len(w.queue)/2 {
		w.queue = append([]stamped(nil), w.queue[w.head:]...)
		w.head = 0
	}
}
