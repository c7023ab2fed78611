package getleadsim

import "github.com/crmsync/crmsync/vendors/simkit"

// HeldWrites is how many writes the simulator holds, not yet applied, to
// apply late (FaultLateApply): each may still overwrite what a lead holds.
// A request already chosen for FaultLateApply counts from that moment,
// while it waits unanswered for the client to give up, not only once it
// is held: a caller waiting for HeldWrites to reach 0 must not see 0
// while such a request is still on its way.
func (s *Server) HeldWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held.Len() + s.lateWaiting
}

// lateDecided counts a request chosen for FaultLateApply as waiting until
// the returned function is called, when its handler returns: by then the
// write is held (late), or was dropped. The caller holds s.mu, as when
// it drew d, so that no moment passes in which the request counts nowhere;
// the returned function takes it.
func (s *Server) lateDecided(d simkit.Decision[Fault]) func() {
	if d.Fault != FaultLateApply {
		return func() {}
	}
	s.lateWaiting++
	return func() {
		s.mu.Lock()
		s.lateWaiting--
		s.mu.Unlock()
	}
}
