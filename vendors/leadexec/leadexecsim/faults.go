package leadexecsim

// DropNext makes the next [Sender.Deliver] of lead uid skip its primary send:
// nothing reaches the receiver, the log records a dropped entry, and the
// Result is not delivered (Err wraps [ErrDropped]) unless a duplicate send
// succeeds. It models a delivery that never reached us. Calls accumulate:
// k calls drop the primary send of the next k Deliver calls. Safe for
// concurrent use.
func (s *Sender) DropNext(uid int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[uid]++
}

// Duplicate makes the next [Sender.Deliver] of lead uid send it n extra
// times after the primary send, even when that send succeeded, modelling
// LeadExec resending a lead. Calls accumulate; n <= 0 does nothing. Safe for
// concurrent use.
func (s *Sender) Duplicate(uid int64, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dups[uid] += n
}
