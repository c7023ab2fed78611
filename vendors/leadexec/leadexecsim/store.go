package leadexecsim

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Default identifiers and credentials of a simulated account.
const (
	DefaultVID        int64 = 101 // lead source (vendor)
	DefaultLID        int64 = 201 // lead type
	DefaultAID        int64 = 301 // campaign of DefaultVID for DefaultLID
	DefaultAccountUID int64 = 1

	DefaultKey          = "sim-asmx-key"                         // ASMX Key
	DefaultClientID     = "0f8fad5b-d9cb-469f-a165-70867728950e" // OAuth client id
	DefaultClientSecret = "7c9e6679-7425-40de-944b-e07fc1f90ae7" // OAuth client secret
	DefaultPostingKey   = "sim-posting-api-key"                  // V2 api-key

	DefaultTokenLifetime = time.Hour
	DefaultNamespace     = "http://tempuri.org/"
	DefaultMaxTake       = 500
	DefaultMaxV2Leads    = 100
)

// FieldKind says how the receiver validates a lead field.
type FieldKind string

// Field kinds.
const (
	KindText  FieldKind = ""      // any text
	KindEmail FieldKind = "email" // local@domain.tld; also the duplicate check
	KindPhone FieldKind = "phone" // 10 digits (11 with a leading 1) once punctuation is dropped; also the duplicate check
	KindState FieldKind = "state" // a two-letter US state or DC; Campaign.AllowedStates applies to it
	KindZip   FieldKind = "zip"   // 12345 or 12345-6789
)

// LeadField is one field of a lead type. GetLeadFields answers Name as the
// Descriptor.
type LeadField struct {
	Name     string
	Required bool
	Kind     FieldKind
	// SpecialBit is the LeadFieldSpecialBit name ("FirstName", "Email",
	// ...); "" answers No_SpecialBit.
	SpecialBit string
	// UID is the LeadFieldUID; 0 answers LeadTypeUID×1000 + the field's
	// position (from 1).
	UID int64
	// DataType is the FieldDataType name GetLeadFields reports: Int,
	// Bigint, Bit, Money, Decimal, Float, DateTime or Varchar; "" answers
	// Bigint for a phone and Varchar otherwise. The receiver refuses a value
	// of a text field (KindText) that is not of its type (Data_Errors):
	// whole numbers for Int and Bigint, numbers for Money, Decimal and
	// Float, 1/0/true/false for Bit, an en-US date or date-time
	// (1/2/2006, 1/2/2006 3:04:05 PM) for DateTime.
	DataType string
}

// dataType is the FieldDataType name GetLeadFields reports for f.
func (f LeadField) dataType() string {
	switch {
	case f.DataType != "":
		return f.DataType
	case f.Kind == KindPhone:
		return "Bigint"
	}
	return "Varchar"
}

// LeadType is a lead type (LID) and its fields. Posted field names are
// matched to these case-insensitively; a posted field the lead type does
// not have is a Data_Errors refusal naming it (LeadExec does not document
// what it does with one: refusing is the reading under which a client that
// sends one finds out).
type LeadType struct {
	UID    int64
	Name   string
	Fields []LeadField
}

// Campaign is a lead source's campaign (AID) for one lead type.
type Campaign struct {
	AID, VID, LID int64
	Name          string
	// Password, when set, must be sent with V1 posts (else No_Account_Found).
	Password string
	// Disabled campaigns answer Account_Disabled.
	Disabled bool
	// DayMax caps the leads accepted per Pacific calendar day (then
	// Post_Over_Max); ≤ 0 is no cap (LeadExec writes -1).
	DayMax int
	// AllowedStates, when set, is the campaign's criterion: a lead whose
	// KindState field is not in it is Outside_Criteria.
	AllowedStates []string
	// Price is the price answered for accepted leads, default "0".
	Price string
	// PendingQCReview marks accepted leads as pending QC review.
	PendingQCReview bool
}

// ClientFieldDef is an account-wide client field definition.
type ClientFieldDef struct {
	ClientFieldUID int64
	Descriptor     string
	DataType       string // DataType name, default "Varchar"
	Required       bool   // a new client (PATCH with ClientUID 0) must set it
	SpecialBit     string // ClientFieldSpecialBit name; "" is NoSpecialBit
	IsState        bool
	Enums          []string
}

// Client is a LeadExec client (a lead buyer) as stored.
type Client struct {
	ClientUID, AccountUID int64
	DateAdded             time.Time
	// Status is a client status name (New … Closed), default "Active".
	// GetClientList writes its position in that list (New = 0), an
	// assumption: LeadExec does not document the numbers.
	Status           string
	UserUID          int64
	TimeOffset       int
	TimeZoneName     string
	Notes            string
	ResellerUID      int64
	GroupUID         int64
	AutomationType   string // Price (default), Priority or RoundRobin
	Priority         int
	DeliveryGroupUID int64
	Username         string
	Password         string
	OverrideReassign bool
	// Fields maps ClientFieldUID to the client's value.
	Fields map[int64]string
}

// StoredLead is a lead the receiver accepted (or AddLead stored).
type StoredLead struct {
	UID         int64
	LeadTypeUID int64
	VID, AID    int64
	DateAdded   time.Time // UTC
	// Fields are the lead-type fields posted, under the lead type's names.
	Fields map[string]string
	// Properties are V2 properties (reference, orderId, noSell, offerIds).
	Properties map[string]string
	PostID     string
	Version    int // receiver version that took it: 1 or 2; 0 for AddLead
}

// Lead returns the lead as the delivery Sender sends it.
func (l StoredLead) Lead() Lead { return Lead{UID: l.UID, Fields: maps.Clone(l.Fields)} }

// ClientStatuses are the documented client status names, in order.
var ClientStatuses = []string{"New", "Pending", "Working", "Waiting", "Dead", "Inactive", "Active", "Late", "Suspended", "Closed"}

// SpecialBits are the documented ClientFieldSpecialBit names, in order.
var SpecialBits = []string{"NoSpecialBit", "Company", "FirstName", "LastName", "Email", "PrimaryPhone",
	"PrimaryPhoneExt", "AlternatePhone", "Address", "City", "State", "Zip", "AlternatePhoneExt", "FaxNumber",
	"Comments", "JobTitle", "WebSite", "MobilePhone"}

// DefaultLeadTypes returns the lead type a new simulator has: DefaultLID
// with FirstName, LastName, Email, PrimaryPhone required and Address, City,
// State, Zip, Company, Comments optional (GenerateLeads makes such leads).
func DefaultLeadTypes() []LeadType {
	return []LeadType{{UID: DefaultLID, Name: "Home Insurance", Fields: []LeadField{
		{Name: FieldFirstName, Required: true, SpecialBit: "FirstName"},
		{Name: FieldLastName, Required: true, SpecialBit: "LastName"},
		{Name: FieldEmail, Required: true, Kind: KindEmail, SpecialBit: "Email"},
		{Name: FieldPrimaryPhone, Required: true, Kind: KindPhone, SpecialBit: "PrimaryPhone"},
		{Name: FieldAddress, SpecialBit: "Address"}, {Name: FieldCity, SpecialBit: "City"},
		{Name: FieldState, Kind: KindState, SpecialBit: "State"}, {Name: FieldZip, Kind: KindZip, SpecialBit: "Zip"},
		{Name: FieldCompany}, {Name: "Comments", SpecialBit: "Comments"},
	}}}
}

// DefaultCampaigns returns the campaign a new simulator has: DefaultAID of
// DefaultVID for DefaultLID, enabled, no cap, no criteria, price 25.00.
func DefaultCampaigns() []Campaign {
	return []Campaign{{AID: DefaultAID, VID: DefaultVID, LID: DefaultLID, Name: "Web Leads", Price: "25.00"}}
}

// DefaultClientFields returns the client field definitions a new simulator
// has: Company, FirstName, LastName, Email, PrimaryPhone, Address, City,
// State, Zip and WebSite (UIDs 1001–1010, with those SpecialBits) and an
// enumerated custom field 1011 without one.
func DefaultClientFields() []ClientFieldDef {
	return []ClientFieldDef{
		{ClientFieldUID: 1001, Descriptor: "Company Name", SpecialBit: "Company"},
		{ClientFieldUID: 1002, Descriptor: "First Name", SpecialBit: "FirstName"},
		{ClientFieldUID: 1003, Descriptor: "Last Name", SpecialBit: "LastName"},
		{ClientFieldUID: 1004, Descriptor: "Email Address", SpecialBit: "Email"},
		{ClientFieldUID: 1005, Descriptor: "Phone", SpecialBit: "PrimaryPhone"},
		{ClientFieldUID: 1006, Descriptor: "Street Address", SpecialBit: "Address"},
		{ClientFieldUID: 1007, Descriptor: "City", SpecialBit: "City"},
		{ClientFieldUID: 1008, Descriptor: "State", SpecialBit: "State"},
		{ClientFieldUID: 1009, Descriptor: "Zip Code", SpecialBit: "Zip"},
		{ClientFieldUID: 1010, Descriptor: "Web Site", SpecialBit: "WebSite"},
		{ClientFieldUID: 1011, Descriptor: "Preferred Contact Time", Enums: []string{"Morning", "Afternoon", "Evening"}},
	}
}

func cloneClient(c *Client) Client {
	out := *c
	out.Fields = maps.Clone(c.Fields)
	return out
}

func cloneStoredLead(l *StoredLead) StoredLead {
	out := *l
	out.Fields = maps.Clone(l.Fields)
	out.Properties = maps.Clone(l.Properties)
	return out
}

// AddClient stores a client as an operator would create it in the LeadExec
// UI and returns its ClientUID. Zero values get defaults: ClientUID from
// the id generator, AccountUID the account's, DateAdded now, Status
// "Active", AutomationType "Price".
func (s *Server) AddClient(c Client) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ClientUID == 0 {
		c.ClientUID = s.newID(IDClient)
	}
	c.AccountUID = cmp.Or(c.AccountUID, s.cfg.accountUID)
	if c.DateAdded.IsZero() {
		c.DateAdded = s.cfg.now()
	}
	c.Status = cmp.Or(c.Status, "Active")
	c.AutomationType = cmp.Or(c.AutomationType, "Price")
	c.Fields = maps.Clone(c.Fields)
	if c.Fields == nil {
		c.Fields = map[int64]string{}
	}
	s.clients[c.ClientUID] = &c
	return c.ClientUID
}

// UpdateClient changes a client as an operator would in the LeadExec UI:
// edit gets the stored client to change in place (its ClientUID cannot
// change); it runs with the server's lock held, so it must not call the
// Server. It fails for an unknown ClientUID.
func (s *Server) UpdateClient(uid int64, edit func(c *Client)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[uid]
	if !ok {
		return fmt.Errorf("leadexecsim: no client %d", uid)
	}
	edit(c)
	c.ClientUID = uid
	if c.Fields == nil {
		c.Fields = map[int64]string{}
	}
	return nil
}

// SetClientField sets one client field value, as an operator would.
func (s *Server) SetClientField(uid, clientFieldUID int64, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[uid]
	if !ok {
		return fmt.Errorf("leadexecsim: no client %d", uid)
	}
	if s.fieldDef(clientFieldUID) == nil {
		return fmt.Errorf("leadexecsim: no client field %d", clientFieldUID)
	}
	c.Fields[clientFieldUID] = value
	return nil
}

// Clients returns copies of the stored clients, by ClientUID.
func (s *Server) Clients() []Client {
	return simkit.Copies(&s.mu, s.clients, cloneClient)
}

// ClientByUID returns a copy of one client.
func (s *Server) ClientByUID(uid int64) (Client, bool) {
	return simkit.CopyOf(&s.mu, s.clients, uid, cloneClient)
}

// AddLead stores a lead without posting it (no validation, no duplicate
// check), for query tests. Zero values get defaults: UID from the id
// generator, LeadTypeUID DefaultLID, DateAdded now. It returns the UID.
func (s *Server) AddLead(l StoredLead) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLead(l)
}

// AddLeads stores n leads as AddLead would, under one lock, and returns
// their UIDs: lead i is lead(i). It is the fast way to fill an account
// with a large history.
func (s *Server) AddLeads(n int, lead func(i int) StoredLead) []int64 {
	return simkit.Fill(&s.mu, n, func(i int) int64 { return s.addLead(lead(i)) })
}

// addLead is AddLead. Caller holds s.mu.
func (s *Server) addLead(l StoredLead) int64 {
	if l.UID == 0 {
		l.UID = s.newID(IDLead)
	}
	l.LeadTypeUID = cmp.Or(l.LeadTypeUID, DefaultLID)
	if l.DateAdded.IsZero() {
		l.DateAdded = s.cfg.now()
	}
	l.DateAdded = l.DateAdded.UTC()
	l.Fields, l.Properties = maps.Clone(l.Fields), maps.Clone(l.Properties)
	s.storeLead(&l)
	return l.UID
}

// storeLead keeps a lead. Caller holds s.mu.
func (s *Server) storeLead(l *StoredLead) {
	s.leads[l.UID] = l
	s.byAdded.Set(l.UID, l.DateAdded)
	if lt := s.cfg.leadTypes[l.LeadTypeUID]; lt != nil {
		for _, k := range dedupeKeys(lt, l.Fields) {
			dk := dedupeKey{lid: lt.UID, key: k}
			if old := s.dedupe[dk]; old == 0 || l.UID < old {
				s.dedupe[dk] = l.UID
			}
		}
	}
}

// Leads returns copies of the stored leads, by UID.
func (s *Server) Leads() []StoredLead {
	return simkit.Copies(&s.mu, s.leads, cloneStoredLead)
}

// LeadByUID returns a copy of one stored lead.
func (s *Server) LeadByUID(uid int64) (StoredLead, bool) {
	return simkit.CopyOf(&s.mu, s.leads, uid, cloneStoredLead)
}

// SetCampaign adds or replaces a campaign (by AID).
func (s *Server) SetCampaign(c Campaign) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.AllowedStates = slices.Clone(c.AllowedStates)
	s.campaigns[c.AID] = &c
}

// DisableCampaign switches a campaign off: posts to it answer
// Account_Disabled until EnableCampaign.
func (s *Server) DisableCampaign(aid int64) error { return s.setDisabled(aid, true) }

// EnableCampaign switches a campaign back on.
func (s *Server) EnableCampaign(aid int64) error { return s.setDisabled(aid, false) }

func (s *Server) setDisabled(aid int64, off bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.campaigns[aid]
	if !ok {
		return fmt.Errorf("leadexecsim: no campaign %d", aid)
	}
	c.Disabled = off
	return nil
}

// fieldDef returns the client field definition. Caller holds s.mu.
func (s *Server) fieldDef(uid int64) *ClientFieldDef {
	for i := range s.cfg.clientFields {
		if s.cfg.clientFields[i].ClientFieldUID == uid {
			return &s.cfg.clientFields[i]
		}
	}
	return nil
}

// statusIndex returns the position of a client status name (any case), or
// -1.
func statusIndex(name string) int {
	for i, s := range ClientStatuses {
		if strings.EqualFold(s, name) {
			return i
		}
	}
	return -1
}
