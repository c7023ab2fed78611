package sharpspringsim

import "fmt"

// RenameField changes the label of a custom field as the web UI would; its
// systemName stays (the vendor's documented guarantee). It panics when no
// custom field has that systemName.
func (s *Server) RenameField(systemName, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fields {
		if f.custom && f.systemName == systemName {
			f.label = label
			return
		}
	}
	panic(fmt.Sprintf("sharpspringsim: RenameField: no custom field %q", systemName))
}
