package sharpspringsim

import "fmt"

// EditLead changes a lead as a user of the web UI would (no request is
// counted) and bumps its updateTimestamp when a value changed. Keys are
// standard string fields or custom lead field systemNames; "" clears. It
// reports whether the lead exists, and panics on any other key, as that is
// a bug in the test.
func (s *Server) EditLead(id int64, fields map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[id]
	if !ok {
		return false
	}
	vals := make(map[string]*string, len(fields))
	for key, v := range fields {
		f := leadFieldByName[key]
		switch {
		case f != nil && f.inLead && f.kind == kindString && key != "emailAddress":
			vals[key] = strptr(v)
		case f == nil && s.customField("lead", key) != nil:
			vals[key] = strptr(v)
		default:
			panic(fmt.Sprintf("sharpspringsim: EditLead: not an editable string field: %q", key))
		}
	}
	if s.applyLead(l, vals) {
		l.updated = s.cfg.now().UTC()
	}
	return true
}
