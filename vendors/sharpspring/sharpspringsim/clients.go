package sharpspringsim

import (
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/vendors/sharpspring/internal/region"
	"github.com/crmsync/crmsync/vendors/simkit"
)

// DefaultFirstClientID is the first agency client id handed out.
const DefaultFirstClientID = int64(2036272130)

// Agency error codes (spec §3.4, §4).
const (
	CodeInvalidCountry     = 215
	CodeCompanyNotFound    = 216
	CodeIncorrectValue     = 217
	CodeInvalidUsername    = 218
	CodeUsernameInUse      = 221
	CodeUserFieldsMissing  = 223
	CodeNoSubAccounts      = 304
	CodeNotReseller        = 305
	CodeNotManaged         = 306
	CodeSubAccountNotFound = 307
)

func init() {
	for code, msg := range map[int]string{
		215: "Invalid country code",
		216: "Company not found",
		217: "Incorrect parameter value",
		218: "Invalid username. Username must be an email address",
		221: "Username is already in use by another account",
		223: "userEmail, userPassword and userDisplayName are all required to create a user",
		304: "No sub-accounts supplied",
		305: "Permission denied: your company is not a reseller",
		306: "Permission denied: you do not manage these accounts",
		307: "Sub account not found",
	} {
		messages[code] = msg
	}
}

// Locales are the values createClient and updateClient accept for locale.
var Locales = region.Locales()

// agencyClient is one sub-account ("company profile managed by") of a
// reseller account.
type agencyClient struct {
	id      int64
	owner   string            // accountID of the reseller managing it
	vals    map[string]string // companyName, salesPhone, … as stored (strings)
	limit   *int64            // email send limit; nil until set
	sending bool              // account sending enabled
	active  bool              // listed by getClients
	userID  int64             // 0 when created without a user
	user    string            // the user's email, if any
}

// Client parameter names. clientListed are the keys getClients returns
// (the vendor's Client schema); the rest are write-only.
var (
	clientListed   = []string{"companyName", "streetAddress", "zipCode", "country", "state", "city"}
	clientStrings  = []string{"companyName", "streetAddress", "zipCode", "country", "state", "city", "salesPhone", "defaultCurrency", "locale", "salesOfficialTimeZone"}
	clientInts     = []string{"salesStartHour", "salesEndHour"}
	clientBools    = []string{"disallowClientRebrand", "hideGoogleAdWords", "displayCallTrackingSettings"}
	clientUserKeys = []string{"userEmail", "userPassword", "userDisplayName"}
)

func (s *Server) registerClientMethods() {
	s.methods["getClients"] = methodSpec{read: (*Server).getClients}
	s.methods["createClient"] = methodSpec{read: (*Server).createClient}
	s.methods["updateClient"] = methodSpec{read: (*Server).updateClient}
	s.methods["updateAccountSendLimit"] = methodSpec{read: (*Server).updateAccountSendLimit}
	s.methods["enableAccountSending"] = methodSpec{read: func(s *Server, c *call) outcome { return s.setSending(c, true) }}
	s.methods["disableAccountSending"] = methodSpec{read: func(s *Server, c *call) outcome { return s.setSending(c, false) }}
}

func (s *Server) isReseller(account string) bool {
	return s.cfg.resellers == nil || s.cfg.resellers[account]
}

// getClients lists the active clients the calling reseller manages, in id
// order, every value a string, unset ones null. hasMore is sent at the top
// level and inside result (false, or true with Options.ClientsHasMoreTrue:
// its meaning is unclear and clients must not page on it).
func (s *Server) getClients(c *call) outcome {
	if !s.isReseller(c.account) {
		return failOutcome(newError(CodeNotReseller))
	}
	ids := make([]int64, 0, len(s.clients))
	for id, cl := range s.clients {
		if cl.owner == c.account && cl.active {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	items := make([][]byte, 0, len(ids))
	for _, id := range ids {
		cl := s.clients[id]
		var o object
		o.add("id", quote(strconv.FormatInt(id, 10)))
		for _, k := range clientListed {
			if v, ok := cl.vals[k]; ok {
				o.add(k, quote(v))
			} else {
				o.add(k, []byte("null"))
			}
		}
		items = append(items, o.bytes())
	}
	more := s.cfg.clientsHasMoreTrue
	var result object
	result.add("getAllcompanyProfileManagedBys", array(items))
	result.add("hasMore", marshal(more))
	return outcome{result: result.bytes(), hasMore: &more}
}

// clientValues validates the client parameters of createClient (create) or
// updateClient and returns them as stored strings. Unknown keys, and on
// update companyName and the user keys (not listed for updateClient), give
// 205 (defensive, as for leads). A bad country gives 215; a locale outside
// Locales, an hour outside 0–24 or a non-boolean flag 205 (assumption: the
// real codes are undocumented).
func clientValues(params map[string]any, create bool) (map[string]string, *apiError) {
	vals := map[string]string{}
	var bad []paramInfo
	for _, key := range sortedKeys(params) {
		v := params[key]
		switch {
		case key == "id" && !create:
		case slices.Contains(clientStrings, key) && (create || key != "companyName"),
			create && slices.Contains(clientUserKeys, key):
			str, ok := scalarString(v)
			if !ok {
				bad = append(bad, paramInfo{key, msgString, &validFormat{Type: "string"}})
				continue
			}
			vals[key] = str
		case slices.Contains(clientInts, key):
			n, ok := looseInt(v)
			if !ok || n < 0 || n > 24 {
				bad = append(bad, paramInfo{key, "Expected an hour from 0 to 24", &validFormat{Type: "int"}})
				continue
			}
			vals[key] = strconv.FormatInt(n, 10)
		case slices.Contains(clientBools, key):
			switch b := v.(type) {
			case bool:
				vals[key] = boolString(b)
			default:
				n, ok := looseInt(v)
				if !ok || (n != 0 && n != 1) {
					bad = append(bad, paramInfo{key, msgFlag, &validFormat{Type: "boolean"}})
					continue
				}
				vals[key] = strconv.FormatInt(n, 10)
			}
		default:
			bad = append(bad, paramInfo{key, "Unknown parameter", nil})
		}
	}
	if len(bad) > 0 {
		return nil, paramError(bad...)
	}
	if c, ok := vals["country"]; ok && c != "" && !region.IsCountry(c) {
		return nil, newError(CodeInvalidCountry)
	}
	if l, ok := vals["locale"]; ok && l != "" && !slices.Contains(Locales, l) {
		return nil, paramError(paramInfo{"locale", "Expected one of " + strings.Join(Locales, ", "), &validFormat{Type: "string"}})
	}
	return vals, nil
}

// createClient creates a sub-account of the calling reseller. companyName
// and salesPhone are required (206); a user is created when the user keys
// are given, all three or none (223), the email being an address (218) not
// used yet (221). The answer is {"status":true,"error":[],"userID":…,"id":…}
// (the nesting is undocumented; flat is the simulator's choice).
func (s *Server) createClient(c *call) outcome {
	if !s.isReseller(c.account) {
		return failOutcome(newError(CodeNotReseller))
	}
	params, e := rawParams(c)
	if e != nil {
		return failOutcome(e)
	}
	vals, e := clientValues(params, true)
	if e != nil {
		return failOutcome(e)
	}
	var missing []paramInfo
	for _, k := range []string{"companyName", "salesPhone"} {
		if strings.TrimSpace(vals[k]) == "" {
			missing = append(missing, paramInfo{k, msgRequired, &validFormat{Type: "string", Required: true}})
		}
	}
	if len(missing) > 0 {
		e := newError(CodeMissingParameters)
		e.Data = paramsData{Params: missing}
		return failOutcome(e)
	}
	given := 0
	for _, k := range clientUserKeys {
		if vals[k] != "" {
			given++
		}
	}
	if given > 0 && given < len(clientUserKeys) {
		return failOutcome(newError(CodeUserFieldsMissing))
	}
	cl := &agencyClient{id: s.nextClientID, owner: c.account, vals: map[string]string{}, sending: true, active: true}
	if given > 0 {
		email := vals["userEmail"]
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return failOutcome(newError(CodeInvalidUsername))
		}
		if _, used := s.users[strings.ToLower(email)]; used {
			return failOutcome(newError(CodeUsernameInUse))
		}
		cl.userID, cl.user = s.nextUserID, email
		s.users[strings.ToLower(email)] = s.nextUserID
		s.nextUserID++
	}
	for k, v := range vals {
		if !slices.Contains(clientUserKeys, k) {
			cl.vals[k] = v // the password is not kept
		}
	}
	s.clients[cl.id] = cl
	s.nextClientID++
	var result object
	result.add("status", []byte("true"))
	result.add("error", []byte("[]"))
	if cl.userID != 0 {
		result.add("userID", marshal(cl.userID))
	} else {
		result.add("userID", []byte("null"))
	}
	result.add("id", marshal(cl.id))
	return outcome{result: result.bytes(), errJSON: []byte("[]"), written: 1}
}

// rawParams decodes params as a hash with numbers as json.Number.
func rawParams(c *call) (map[string]any, *apiError) {
	out := make(map[string]any, len(c.params))
	for k, raw := range c.params {
		v, ok := decodeValue(raw)
		if !ok {
			return nil, newError(CodeInvalidParams)
		}
		out[k] = v
	}
	return out, nil
}

// managedClient decodes the call's params (see rawParams) and finds the
// client named by params[key] for the calling reseller: 305 not a
// reseller, 304 key missing (assumption), 205 not an integer, notFound
// (307, or 216 for updateClient when configured) unknown or inactive, 306
// managed by another account.
func (s *Server) managedClient(c *call, key string, notFound int) (*agencyClient, map[string]any, *apiError) {
	params, e := rawParams(c)
	if e != nil {
		return nil, nil, e
	}
	if !s.isReseller(c.account) {
		return nil, nil, newError(CodeNotReseller)
	}
	v, ok := params[key]
	if !ok || v == nil {
		return nil, nil, newError(CodeNoSubAccounts)
	}
	id, ok := looseInt(v)
	if !ok {
		return nil, nil, paramError(paramInfo{key, msgInteger, &validFormat{Type: "int", Required: true}})
	}
	cl := s.clients[id]
	if cl == nil || !cl.active {
		return nil, nil, newError(notFound)
	}
	if cl.owner != c.account {
		return nil, nil, newError(CodeNotManaged)
	}
	return cl, params, nil
}

func updatesOK() outcome {
	return outcome{result: []byte(`{"updates":[{"success":true,"error":null}]}`), errJSON: []byte("[]"), written: 1}
}

// updateClient changes the given fields of a client. An unknown id gives
// 307 (Options.UpdateClientNotFoundCode: 216).
func (s *Server) updateClient(c *call) outcome {
	cl, params, e := s.managedClient(c, "id", s.cfg.updateClientNotFound)
	if e != nil {
		return failOutcome(e)
	}
	vals, e := clientValues(params, false)
	if e != nil {
		return failOutcome(e)
	}
	if p, ok := vals["salesPhone"]; ok && strings.TrimSpace(p) == "" {
		return failOutcome(paramError(paramInfo{"salesPhone", msgNotEmpty, &validFormat{Type: "string", Required: true}}))
	}
	for k, v := range vals {
		cl.vals[k] = v
	}
	return updatesOK()
}

// updateAccountSendLimit sets a client's email send limit (an integer ≥ 0;
// missing → 206, otherwise → 205).
func (s *Server) updateAccountSendLimit(c *call) outcome {
	cl, params, e := s.managedClient(c, "clientID", CodeSubAccountNotFound)
	if e != nil {
		return failOutcome(e)
	}
	raw, ok := params["emailLimit"]
	if !ok || raw == nil {
		e := newError(CodeMissingParameters)
		e.Data = paramsData{Params: []paramInfo{{"emailLimit", msgRequired, &validFormat{Type: "int", Required: true}}}}
		return failOutcome(e)
	}
	n, ok := looseInt(raw)
	if !ok || n < 0 {
		return failOutcome(paramError(paramInfo{"emailLimit", msgInteger, &validFormat{Type: "int", Required: true}}))
	}
	cl.limit = &n
	return updatesOK()
}

func (s *Server) setSending(c *call, on bool) outcome {
	cl, _, e := s.managedClient(c, "clientID", CodeSubAccountNotFound)
	if e != nil {
		return failOutcome(e)
	}
	cl.sending = on
	return updatesOK()
}

// Client is a snapshot of an agency client, for test assertions.
type Client struct {
	ID             int64
	Owner          string            // the managing reseller's accountID
	Fields         map[string]string // every stored parameter (no password)
	EmailLimit     *int64
	SendingEnabled bool
	Active         bool
	UserID         int64
	UserEmail      string
}

// Clients returns every client of every account, inactive ones included,
// ordered by id.
func (s *Server) Clients() []Client {
	return simkit.Copies(&s.mu, s.clients, (*agencyClient).snapshot)
}

// snapshot copies cl.
func (cl *agencyClient) snapshot() Client {
	var lim *int64
	if cl.limit != nil {
		n := *cl.limit
		lim = &n
	}
	f := make(map[string]string, len(cl.vals))
	maps.Copy(f, cl.vals)
	return Client{ID: cl.id, Owner: cl.owner, Fields: f, EmailLimit: lim, SendingEnabled: cl.sending, Active: cl.active,
		UserID: cl.userID, UserEmail: cl.user}
}

// SeedClient stores an active client managed by owner (default account
// when "") without a request and returns its id. Keys are createClient
// parameter names; values are stored as given. It panics on an unknown key.
func (s *Server) SeedClient(owner string, fields map[string]string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner == "" {
		owner = DefaultAccountID
	}
	cl := &agencyClient{id: s.nextClientID, owner: owner, vals: map[string]string{}, sending: true, active: true}
	for k, v := range fields {
		if !slices.Contains(clientStrings, k) && !slices.Contains(clientInts, k) && !slices.Contains(clientBools, k) {
			panic(fmt.Sprintf("sharpspringsim: SeedClient: unknown key %q", k))
		}
		cl.vals[k] = v
	}
	s.clients[cl.id] = cl
	s.nextClientID++
	return cl.id
}

// SetClientFields changes stored fields of a client as the web UI would
// (no request is counted). It panics on an unknown id.
func (s *Server) SetClientFields(id int64, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clients[id]
	if cl == nil {
		panic(fmt.Sprintf("sharpspringsim: SetClientFields: no client %d", id))
	}
	for k, v := range fields {
		cl.vals[k] = v
	}
}

// SetClientActive marks a client active or inactive; getClients lists
// active clients only, and the client methods answer an inactive one as not
// found. It panics on an unknown id.
func (s *Server) SetClientActive(id int64, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clients[id]
	if cl == nil {
		panic(fmt.Sprintf("sharpspringsim: SetClientActive: no client %d", id))
	}
	cl.active = active
}
