package ivvysim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// timeLayout is iVvy's timestamp format; values are written in UTC with a
// trailing " UTC" (spec §2.9).
const timeLayout = "2006-01-02 15:04:05"

func ivvyTime(t time.Time) string { return t.UTC().Format(timeLayout) + " UTC" }

// Contact is a stored contact (a snapshot when returned by a method).
type Contact struct {
	ID                         int64
	FirstName, LastName, Email string
	Phone, ExternalID          string
	CustomFields               map[int64]string // fieldId → value
	Companies                  []int64
	Created, Modified          time.Time
}

// Company is a stored company.
type Company struct {
	ID                int64
	BusinessName      string
	ExternalID        string
	Created, Modified time.Time
}

// Lead is a stored lead.
type Lead struct {
	ID                                                int64
	Name, Description                                 string
	SourceID, TypeID, SubtypeID, StageID, QualityID   int64
	IndustryID, ChannelID, OwnerUserID, StageReasonID int64
	ContactID, CompanyID                              int64
	CustomFields                                      map[int64]string // fieldId → fieldValue
	Created, Modified                                 time.Time
}

type (
	contact = Contact
	company = Company
	lead    = Lead
)

// LookupItem is one entry of a lookup list; Subs are a type's subtypes or a
// stage's reasons.
type LookupItem struct {
	ID   int64
	Name string
	Subs []LookupItem
}

type lookupItem = LookupItem

type fieldDef struct {
	ID          int64
	Type        int
	DisplayName string
}

// Lookup list names for SeedLookups.
const (
	ListSources   = "source"
	ListTypes     = "type"
	ListStages    = "stage"
	ListQualities = "quality"
	ListChannels  = "channel"
	ListIndustry  = "industry"
)

// seedDefaults loads the lookup lists and contact custom fields every new
// simulator starts with.
func (s *Server) seedDefaults() {
	s.lookups = map[string][]lookupItem{
		ListSources: {{ID: 1, Name: "Website"}, {ID: 2, Name: "Referral"}, {ID: 3, Name: "Phone"}, {ID: 4, Name: "Email"}},
		ListTypes: {{ID: 1, Name: "Conference"}, {ID: 2, Name: "Wedding", Subs: []LookupItem{{ID: 21, Name: "Ceremony"}, {ID: 22, Name: "Reception"}}},
			{ID: 3, Name: "Corporate Event"}},
		ListStages: {{ID: 1, Name: "New"}, {ID: 2, Name: "Contacted"}, {ID: 3, Name: "Qualified"}, {ID: 4, Name: "Proposal"},
			{ID: 5, Name: "Won"}, {ID: 6, Name: "Lost", Subs: []LookupItem{{ID: 61, Name: "Price"}, {ID: 62, Name: "Availability"}}}},
		ListQualities: {{ID: 1, Name: "Hot"}, {ID: 2, Name: "Warm"}, {ID: 3, Name: "Cold"}},
		ListChannels:  {{ID: 1, Name: "Web form"}, {ID: 2, Name: "Email"}, {ID: 3, Name: "Phone"}},
		ListIndustry:  {{ID: 1, Name: "Technology"}, {ID: 2, Name: "Education"}, {ID: 3, Name: "Government"}, {ID: 4, Name: "Other"}},
	}
	s.fieldDefs = []fieldDef{{ID: 201, Type: 0, DisplayName: "Favorite Color"}, {ID: 202, Type: 8, DisplayName: "Budget"}}
}

// SeedLookups replaces one lookup list (ListSources, ListTypes, ...).
func (s *Server) SeedLookups(list string, items []LookupItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.lookups[list]; !ok {
		panic(fmt.Sprintf("ivvysim: SeedLookups: unknown list %q", list))
	}
	s.lookups[list] = slices.Clone(items)
}

func (s *Server) lookupByID(list string, id int64) (lookupItem, bool) {
	for _, it := range s.lookups[list] {
		if it.ID == id {
			return it, true
		}
	}
	return lookupItem{}, false
}

func (s *Server) lookupName(list string, id int64) any {
	if it, ok := s.lookupByID(list, id); ok {
		return it.Name
	}
	return nil
}

func (s *Server) newID(kind string) int64 {
	id := s.nextID[kind]
	s.nextID[kind]++
	return id
}

func cloneContact(c *Contact) Contact {
	out := *c
	out.CustomFields = maps.Clone(c.CustomFields)
	out.Companies = slices.Clone(c.Companies)
	return out
}

func cloneLead(l *Lead) Lead {
	out := *l
	out.CustomFields = maps.Clone(l.CustomFields)
	return out
}

// SeedContact stores a contact without a request and returns its id (ID,
// Created and Modified are set by the simulator).
func (s *Server) SeedContact(c Contact) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seedContact(c, s.cfg.now().UTC())
}

// seedContact stores c as new, made at at; s.mu is held.
func (s *Server) seedContact(c Contact, at time.Time) int64 {
	c.ID, c.Created = s.newID("contact"), at
	s.contacts[c.ID] = &c
	s.contactOrder = append(s.contactOrder, c.ID)
	touch(c.ID, &c.CustomFields, &c.Modified, at, s.contactMod)
	s.noteContact(&c)
	return c.ID
}

// SeedLead stores a lead without a request or validation and returns its id.
func (s *Server) SeedLead(l Lead) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seedLead(l, s.cfg.now().UTC())
}

// seedLead stores l as new, made at at; s.mu is held.
func (s *Server) seedLead(l Lead, at time.Time) int64 {
	l.ID, l.Created = s.newID("lead"), at
	s.leads[l.ID] = &l
	s.leadOrder = append(s.leadOrder, l.ID)
	touch(l.ID, &l.CustomFields, &l.Modified, at, s.leadMod)
	s.noteLead(&l)
	return l.ID
}

// LeadSeed is one lead of SeedLeads, with the contact it links to.
type LeadSeed struct {
	Contact Contact
	Lead    Lead // ContactID is set to Contact's id
	// At is the creation and modification time of both; default the
	// clock's now.
	At time.Time
}

// SeedLeads stores n leads, each with its own contact, without requests
// and under one lock, and returns the lead ids: lead i is seed(i). It is
// the fast way to fill an account with a large history.
func (s *Server) SeedLeads(n int, seed func(i int) LeadSeed) []int64 {
	return simkit.Fill(&s.mu, n, func(i int) int64 {
		sd := seed(i)
		at := sd.At.UTC()
		if sd.At.IsZero() {
			at = s.cfg.now().UTC()
		}
		l := sd.Lead
		l.ContactID = s.seedContact(sd.Contact, at)
		return s.seedLead(l, at)
	})
}

// EditLead changes a lead as a user of the iVvy UI would and bumps its
// modifiedDate. It reports whether the lead exists.
func (s *Server) EditLead(id int64, edit func(*Lead)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[id]
	if !ok {
		return false
	}
	ensureCustom(&l.CustomFields)
	edit(l)
	l.ID = id
	touch(id, &l.CustomFields, &l.Modified, s.cfg.now().UTC(), s.leadMod)
	s.noteLead(l)
	return true
}

// EditContact changes a contact as a UI user would and bumps its
// modifiedDate (the leads that use it keep theirs).
func (s *Server) EditContact(id int64, edit func(*Contact)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return false
	}
	ensureCustom(&c.CustomFields)
	edit(c)
	c.ID = id
	touch(id, &c.CustomFields, &c.Modified, s.cfg.now().UTC(), s.contactMod)
	s.noteContact(c)
	return true
}

// touch finishes a seed or an edit of the stored record id: its custom
// fields exist for the API to write into, and its modifiedDate is at, in
// the record and in mod. s.mu is held.
func touch(id int64, custom *map[int64]string, modified *time.Time, at time.Time, mod *modIndex) {
	ensureCustom(custom)
	*modified = at
	mod.set(id, at)
}

// ensureCustom makes a nil custom fields map an empty one.
func ensureCustom(custom *map[int64]string) {
	if *custom == nil {
		*custom = map[int64]string{}
	}
}

// DeleteLead removes a lead; later writes to its id answer 24216.
func (s *Server) DeleteLead(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leads, id)
	s.leadMod.Remove(id)
	s.leadOrder = slices.DeleteFunc(s.leadOrder, func(x int64) bool { return x == id })
}

// Leads returns a snapshot of every lead, ordered by id.
func (s *Server) Leads() []Lead {
	return simkit.Copies(&s.mu, s.leads, cloneLead)
}

// LeadByID returns one lead.
func (s *Server) LeadByID(id int64) (Lead, bool) {
	return simkit.CopyOf(&s.mu, s.leads, id, cloneLead)
}

// Contacts returns a snapshot of every contact, ordered by id.
func (s *Server) Contacts() []Contact {
	return simkit.Copies(&s.mu, s.contacts, cloneContact)
}

// ContactByID returns one contact.
func (s *Server) ContactByID(id int64) (Contact, bool) {
	return simkit.CopyOf(&s.mu, s.contacts, id, cloneContact)
}

// LeadsByEmail returns the leads whose contact has that email (compared
// case-insensitively), ordered by id.
func (s *Server) LeadsByEmail(email string) []Lead {
	var out []Lead
	for _, l := range s.Leads() {
		if c, ok := s.ContactByID(l.ContactID); ok && strings.EqualFold(c.Email, email) {
			out = append(out, l)
		}
	}
	return out
}
