package getleadsim

// HeldWrites is how many writes the simulator holds, not yet applied, to
// apply late (FaultLateApply): each may still overwrite what a lead holds.
func (s *Server) HeldWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held.Len()
}
