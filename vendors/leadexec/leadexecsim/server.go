package leadexecsim

import (
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Pacific Time on hosts without zoneinfo

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Options configure a Server. The zero value of each field means the
// documented (or assumed) default, so Options{} is a usable account.
type Options struct {
	// Now is the clock for DateAdded, daily caps, token expiry and rate
	// windows. Default time.Now. It must be safe for concurrent use.
	Now func() time.Time
	// NextID issues ids by kind (IDLead, IDClient, IDPost, IDToken); it is
	// called with the server's lock held. Default: a counter per kind
	// (leads from 5000000001, clients from 20001, posts and tokens from 1),
	// so runs are repeatable.
	NextID func(kind IDKind) int64
	// Key is the ASMX Key; default DefaultKey.
	Key string
	// ClientID and ClientSecret are the OAuth client credentials; default
	// DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// PostingKey is the V2 receiver's api-key; default DefaultPostingKey.
	PostingKey string
	// TokenLifetime is expires_in; default DefaultTokenLifetime (3600 s).
	TokenLifetime time.Duration
	// LeadTypes, Campaigns and ClientFields define the account; nil means
	// DefaultLeadTypes(), DefaultCampaigns(), DefaultClientFields().
	LeadTypes    []LeadType
	Campaigns    []Campaign
	ClientFields []ClientFieldDef
	// AccountUID is the account of added clients; default DefaultAccountUID.
	AccountUID int64
	// Namespace is the ASMX XML namespace; default DefaultNamespace
	// (LeadExec's is not documented).
	Namespace string
	// MaxTake caps the lead query's Take (silently); a Take of 0 means
	// MaxTake. Default DefaultMaxTake (500).
	MaxTake int
	// MaxV2Leads caps the leads of one V2 post (more: HTTP 400). Default
	// DefaultMaxV2Leads (100).
	MaxV2Leads int
	// NumericResponseType writes ResponseType as its number (6) in JSON
	// answers instead of its name (Duplicate_Lead).
	NumericResponseType bool
}

// IDKind names a sequence of ids.
type IDKind string

// Id kinds.
const (
	IDLead   IDKind = "lead"
	IDClient IDKind = "client"
	IDPost   IDKind = "post"  // PostID GUIDs are made from it
	IDToken  IDKind = "token" // access tokens are made from it
)

type simConfig struct {
	now                   func() time.Time
	nextID                func(IDKind) int64
	key, clientID, secret string
	postingKey            string
	tokenLifetime         time.Duration
	leadTypes             map[int64]*LeadType
	campaigns             []Campaign
	clientFields          []ClientFieldDef
	accountUID            int64
	namespace             string
	maxTake, maxV2Leads   int
	numericResponseType   bool
	pacific               *time.Location
	customNextID          bool
	fieldsByName          map[int64]map[string]LeadField
}

func (o Options) resolve() simConfig {
	c := simConfig{now: o.Now, nextID: o.NextID, key: cmp.Or(o.Key, DefaultKey),
		clientID: cmp.Or(o.ClientID, DefaultClientID), secret: cmp.Or(o.ClientSecret, DefaultClientSecret),
		postingKey: cmp.Or(o.PostingKey, DefaultPostingKey), tokenLifetime: o.TokenLifetime,
		accountUID: cmp.Or(o.AccountUID, DefaultAccountUID), namespace: cmp.Or(o.Namespace, DefaultNamespace),
		maxTake: o.MaxTake, maxV2Leads: o.MaxV2Leads, numericResponseType: o.NumericResponseType,
		customNextID: o.NextID != nil}
	if c.now == nil {
		c.now = time.Now
	}
	c.tokenLifetime = simkit.PositiveOr(c.tokenLifetime, DefaultTokenLifetime)
	c.maxTake = simkit.PositiveOr(c.maxTake, DefaultMaxTake)
	c.maxV2Leads = simkit.PositiveOr(c.maxV2Leads, DefaultMaxV2Leads)
	lts := o.LeadTypes
	if lts == nil {
		lts = DefaultLeadTypes()
	}
	c.leadTypes = map[int64]*LeadType{}
	c.fieldsByName = map[int64]map[string]LeadField{}
	for _, lt := range lts {
		c.setLeadType(lt)
	}
	c.campaigns = slices.Clone(o.Campaigns)
	if o.Campaigns == nil {
		c.campaigns = DefaultCampaigns()
	}
	c.clientFields = slices.Clone(o.ClientFields)
	if o.ClientFields == nil {
		c.clientFields = DefaultClientFields()
	}
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil { // unreachable: time/tzdata is linked in
		panic("leadexecsim: " + err.Error())
	}
	c.pacific = loc
	return c
}

// setLeadType adds or replaces a lead type; LeadFieldUIDs left 0 are
// numbered. Callers other than resolve hold the server's lock.
func (c *simConfig) setLeadType(lt LeadType) {
	lt.Fields = slices.Clone(lt.Fields)
	byName := map[string]LeadField{}
	for i := range lt.Fields {
		if lt.Fields[i].UID == 0 {
			lt.Fields[i].UID = lt.UID*1000 + int64(i) + 1
		}
		byName[strings.ToLower(lt.Fields[i].Name)] = lt.Fields[i]
	}
	c.leadTypes[lt.UID] = &lt
	c.fieldsByName[lt.UID] = byName
}

// Endpoint names a simulated endpoint, for request counts and faults.
type Endpoint string

// Endpoints.
const (
	EndpointAny           Endpoint = "*" // faults only: any endpoint
	EndpointInsertV1      Endpoint = "InsertV1"
	EndpointInsertV2      Endpoint = "InsertV2"
	EndpointToken         Endpoint = "Token"
	EndpointGetClientList Endpoint = "GetClientList"
	EndpointGetClientData Endpoint = "GetClientData"
	EndpointGetLeadFields Endpoint = "GetLeadFields"
	// EndpointEditClient is ASMX AddEditClient (SOAP 1.1 on /service.asmx).
	EndpointEditClient Endpoint = "AddEditClient"
	EndpointQueryLeads Endpoint = "QueryLeads"
)

// Server simulates LeadExec's lead receiver (V1 and V2), OAuth token
// endpoint, ASMX GetClientList/GetClientData/GetLeadFields/AddEditClient and
// lead data query API on one http.Handler (the paths of the three LeadExec
// hosts do not collide). All methods are safe for concurrent use.
type Server struct {
	cfg simConfig

	mu        sync.Mutex // guards everything below
	campaigns map[int64]*Campaign
	clients   map[int64]*Client
	leads     map[int64]*StoredLead
	// byAdded indexes lead UIDs by DateAdded, so that a lead query reads
	// the leads of its date range, not every lead.
	byAdded   *simkit.TimeIndex[int64]
	tokens    map[string]time.Time // access token → expiry
	dayCounts map[dayKey]int       // accepted leads per campaign and Pacific day
	dedupe    map[dedupeKey]int64  // duplicate-check key → oldest lead
	counters  map[IDKind]int64
	counts    map[Endpoint]int
	scripted  simkit.Queue[Endpoint, simFault]
	limits    map[Endpoint]*rateLimit
}

type dayKey struct {
	aid int64
	day string // Pacific date, 2006-01-02
}

// NewServer returns a simulator with the account Options describe and no
// clients or leads.
func NewServer(opts Options) *Server {
	s := &Server{
		cfg:       opts.resolve(),
		campaigns: map[int64]*Campaign{},
		clients:   map[int64]*Client{},
		leads:     map[int64]*StoredLead{},
		byAdded:   simkit.NewTimeIndex[int64](),
		tokens:    map[string]time.Time{},
		dayCounts: map[dayKey]int{},
		dedupe:    map[dedupeKey]int64{},
		counters:  map[IDKind]int64{IDLead: 5_000_000_001, IDClient: 20_001, IDPost: 1, IDToken: 1},
		counts:    map[Endpoint]int{},
		scripted:  simkit.Queue[Endpoint, simFault]{},
		limits:    map[Endpoint]*rateLimit{},
	}
	for _, c := range s.cfg.campaigns {
		c.AllowedStates = slices.Clone(c.AllowedStates)
		s.campaigns[c.AID] = &c
	}
	return s
}

// newID issues the next id of a kind. Caller holds s.mu.
func (s *Server) newID(kind IDKind) int64 {
	if s.cfg.customNextID {
		return s.cfg.nextID(kind)
	}
	id := s.counters[kind]
	s.counters[kind]++
	return id
}

// maxBody bounds request bodies.
const maxBody = 4 << 20

// simAnswer is a response before it is written.
type simAnswer struct {
	status int
	ctype  string
	body   []byte
	header http.Header
}

func textAnswer(status int, body string) simAnswer {
	return simAnswer{status: status, ctype: "text/plain; charset=utf-8", body: []byte(body)}
}

func jsonAnswer(status int, v any) simAnswer {
	b, err := json.Marshal(v)
	if err != nil {
		return textAnswer(http.StatusInternalServerError, "encode: "+err.Error())
	}
	return simAnswer{status: status, ctype: "application/json; charset=utf-8", body: b}
}

// apiMessage is the ASP.NET Web API error body.
func apiMessage(status int, msg string) simAnswer {
	return jsonAnswer(status, map[string]string{"message": msg})
}

// paths maps the lower-case paths that name one endpoint each; route
// reads the others.
var paths = map[string]Endpoint{
	"/processor/insert/general":   EndpointInsertV1,
	"/v2/insert/general":          EndpointInsertV2,
	"/v1/authorization/token":     EndpointToken,
	"/service.asmx/getclientlist": EndpointGetClientList,
	"/service.asmx/getclientdata": EndpointGetClientData,
	"/service.asmx/getleadfields": EndpointGetLeadFields,
	"/service.asmx/addeditclient": EndpointEditClient,
}

// route maps a request to its endpoint. Paths are case-insensitive, as
// on IIS.
func route(r *http.Request) (Endpoint, bool) {
	p := strings.ToLower(strings.TrimSuffix(r.URL.Path, "/"))
	if e, ok := paths[p]; ok {
		return e, true
	}
	switch {
	case strings.HasPrefix(p, "/processor/insert/general/"):
		return EndpointInsertV1, true
	case p == "/service.asmx" && r.Method == http.MethodPost && r.Header.Get("SOAPAction") != "":
		return EndpointEditClient, true
	case strings.HasPrefix(p, "/v1/leads/query/"):
		return EndpointQueryLeads, true
	}
	return "", false
}

// endpoints lists the verbs each endpoint takes and the method answering
// it.
var endpoints = map[Endpoint]struct {
	methods []string
	answer  func(*Server, *http.Request) simAnswer
}{
	EndpointInsertV1:      {[]string{http.MethodGet, http.MethodPost}, (*Server).insertV1},
	EndpointInsertV2:      {[]string{http.MethodPost}, (*Server).insertV2},
	EndpointToken:         {[]string{http.MethodPost}, (*Server).issueToken},
	EndpointGetClientList: {[]string{http.MethodGet, http.MethodPost}, (*Server).getClientList},
	EndpointGetClientData: {[]string{http.MethodGet, http.MethodPost}, (*Server).getClientData},
	EndpointGetLeadFields: {[]string{http.MethodGet, http.MethodPost}, (*Server).getLeadFields},
	EndpointEditClient:    {[]string{http.MethodPost}, (*Server).addEditClient},
	EndpointQueryLeads:    {[]string{http.MethodPost}, (*Server).queryLeads},
}

// ServeHTTP routes the request, counts it, applies injected faults (a
// scripted fault first, then the endpoint's rate window), then answers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep, ok := route(r)
	if !ok {
		write(w, textAnswer(http.StatusNotFound, "The resource cannot be found."))
		return
	}
	if !slices.Contains(endpoints[ep].methods, r.Method) {
		w.Header().Set("Allow", strings.Join(endpoints[ep].methods, ", "))
		write(w, textAnswer(http.StatusMethodNotAllowed, "The HTTP verb "+r.Method+" is not allowed."))
		return
	}
	now := s.cfg.now()
	s.mu.Lock()
	s.counts[ep]++
	f := s.takeFault(ep, now)
	s.mu.Unlock()
	switch f.kind {
	case faultStatus:
		write(w, faultAnswer(ep, f.status))
		return
	case faultRateLimit:
		a := rateLimited(ep)
		if f.retryAfter > 0 {
			a.header = http.Header{"Retry-After": {strconv.Itoa(simkit.Seconds(f.retryAfter))}}
		}
		write(w, a)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	a := endpoints[ep].answer(s, r)
	switch f.kind {
	case faultDrop:
		simkit.HangUp(w)
		return
	case faultMalformed:
		a.body = malform(a.body)
	}
	write(w, a)
}

func write(w http.ResponseWriter, a simAnswer) {
	maps.Copy(w.Header(), a.header)
	simkit.Reply(w, a.status, a.ctype, a.body)
}

// readBody reads a request body (bounded by maxBody).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

// RequestCount returns how many requests reached an endpoint (faulted ones
// included) since NewServer or ResetCounts.
func (s *Server) RequestCount(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[ep]
}

// RequestCounts returns the request count of every endpoint reached.
func (s *Server) RequestCounts() map[Endpoint]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// ResetCounts zeroes the request counts.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// pacific formats t as the ASMX service does: Pacific Time, US style.
func (s *Server) pacific(t time.Time) string {
	return t.In(s.cfg.pacific).Format("1/2/2006 3:04:05 PM")
}
