package sharpspringsim

import (
	"cmp"
	"maps"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Options configure a simulator. The zero value of each field means the
// documented default, so Options{} is a faithful SharpSpring account.
type Options struct {
	// Accounts maps accountID → secretKey. Default {"1001": "sim-secret"}
	// when nil. Each account has its own rate-limit and daily counters but
	// all accounts share one data set (leads and fields).
	Accounts map[string]string

	// RateLimitPerSecond is how many requests one account may make in one
	// fixed UTC second before the API answers 107 (HTTP 200). Default 10;
	// negative disables the limit.
	RateLimitPerSecond int

	// DailyLimit is how many requests one account may make in one UTC day
	// before the API answers 106. Default 50000; negative disables it.
	DailyLimit int

	// MaxObjects is the most objects one write request may carry before the
	// API answers 209 and applies nothing. Default 500.
	MaxObjects int

	// Now is the clock for timestamps, rate windows and generated
	// systemNames. Default time.Now. It must be safe for concurrent use.
	Now func() time.Time

	// CompanyTimeZone is the account's Company Profile zone, used by the v1
	// endpoint to read and write "Y-m-d H:i:s" values. Default
	// America/New_York, or a fixed UTC-5 zone when tzdata is missing.
	CompanyTimeZone *time.Location

	// AuthErrorAs200 answers wrong credentials with HTTP 200 and API error
	// 105 instead of the default HTTP 401 text/plain answer.
	AuthErrorAs200 bool

	// IgnoreUnknownFields silently drops unknown and read-only keys in lead
	// and field objects. Default false: they give object error 205 whose
	// data.params lists the valid standard parameters.
	IgnoreUnknownFields bool

	// NoExpectRule turns off the Google front end's rule, on by default:
	// a request carrying "Expect: 100-continue" whose URL plus body exceeds
	// 1024 bytes gets HTTP 502 with an HTML body (spec §5.3).
	NoExpectRule bool

	// RandomOrder shuffles getLeads and getLeadsDateRange results (before
	// offset and limit are applied) to expose clients that rely on an order.
	// Default false: ascending id.
	RandomOrder bool

	// DateRangeMaxLimit is how getLeadsDateRange treats a limit above 500.
	// The vendor documents at most 500 objects per request and no limit
	// parameter for the method; larger limits are only observed to work
	// (spec §3.1). Default 0: a limit above 500 is refused with API error
	// 209 (the documented error for over 500 per request), so a client that
	// relies on more fails in tests. Positive: limits above it are capped
	// silently at that many leads (500 reproduces a vendor that ignores
	// the larger limit). Negative: any limit is honoured, as observed.
	DateRangeMaxLimit int

	// IgnoreFieldTypes lets custom lead fields take any string whatever
	// their dataType. Default false: a value not of the field's type (an
	// int, a Y-m-d date, a Y-m-d H:i:s date-time, 0/1 for boolean and bit,
	// one of the options for picklist and radio, options separated by ","
	// for checkbox) is refused with object error 205 naming the field.
	IgnoreFieldTypes bool

	// PartialErrorNull puts "error": null at the top level of a write
	// response with failed objects, as the vendor docs describe, instead of
	// the observed array of copies of each failed object's error.
	PartialErrorNull bool

	// MissingEmailCode is the object error code for a createLeads object
	// without emailAddress. Default 205 (assumed: the real code is unobserved).
	MissingEmailCode int

	// FirstID is the first lead id handed out. Default 88038560770, above
	// the int32 range so 32-bit id handling fails loudly.
	FirstID int64

	// PhantomGetLead makes getLead for an unknown id return the 2017
	// "phantom" object (leadStatus "open", empty custom fields, no id)
	// instead of an empty list.
	PhantomGetLead bool

	// RawLessThan stores "<" as sent. Default false: like the real API, a
	// "<" written through the API comes back as "&lt;" unless it is the last
	// character of the value.
	RawLessThan bool

	// LowercaseSystemNames lower-cases the label slug of generated custom
	// field systemNames. Default false: the label's case is kept
	// ("Favorite_Color_5a0dd86e6e290").
	LowercaseSystemNames bool

	// Resellers lists the accounts with the agency ("is reseller") flag,
	// which may use getClients, createClient, updateClient and the sending
	// methods; others get 305. Default nil: every account is a reseller.
	Resellers map[string]bool

	// ClientsHasMoreTrue makes getClients answer "hasMore": true (top level
	// and inside result) although every client was returned, as the buggy
	// real flag may; clients must not page on it. Default false.
	ClientsHasMoreTrue bool

	// UpdateClientNotFoundCode is the error for updateClient with an
	// unknown id: 307 (default) or 216; the spec allows both.
	UpdateClientNotFoundCode int
}

// Defaults that the zero values of Options stand for.
const (
	DefaultAccountID          = "1001"
	DefaultSecretKey          = "sim-secret"
	DefaultRateLimitPerSecond = 10
	DefaultDailyLimit         = 50000
	DefaultMaxObjects         = 500
	DefaultFirstID            = int64(88038560770)
	DefaultMissingEmailCode   = 205
)

// config is Options with every default applied; it never changes after New.
type config struct {
	accounts          map[string]string
	ratePerSecond     int // ≤0: off
	daily             int // ≤0: off
	maxObjects        int
	now               func() time.Time
	zone              *time.Location
	authAs200         bool
	ignoreUnknown     bool
	expectRule        bool
	randomOrder       bool
	dateRangeMaxLimit int // 0: refuse above 500; >0: cap silently; <0: no cap
	ignoreFieldTypes  bool
	partialErrorNull  bool
	missingEmailCode  int
	firstID           int64
	phantomGetLead    bool
	rawLessThan       bool
	lowercaseSysNames bool

	resellers            map[string]bool // nil: every account
	clientsHasMoreTrue   bool
	updateClientNotFound int
}

func (o Options) config() config {
	c := config{
		accounts:          map[string]string{DefaultAccountID: DefaultSecretKey},
		ratePerSecond:     o.RateLimitPerSecond,
		daily:             o.DailyLimit,
		maxObjects:        o.MaxObjects,
		now:               o.Now,
		zone:              o.CompanyTimeZone,
		authAs200:         o.AuthErrorAs200,
		ignoreUnknown:     o.IgnoreUnknownFields,
		expectRule:        !o.NoExpectRule,
		randomOrder:       o.RandomOrder,
		dateRangeMaxLimit: o.DateRangeMaxLimit,
		ignoreFieldTypes:  o.IgnoreFieldTypes,
		partialErrorNull:  o.PartialErrorNull,
		missingEmailCode:  o.MissingEmailCode,
		firstID:           o.FirstID,
		phantomGetLead:    o.PhantomGetLead,
		rawLessThan:       o.RawLessThan,
		lowercaseSysNames: o.LowercaseSystemNames,

		clientsHasMoreTrue:   o.ClientsHasMoreTrue,
		updateClientNotFound: o.UpdateClientNotFoundCode,
	}
	if o.Resellers != nil {
		c.resellers = maps.Clone(o.Resellers)
	}
	if c.updateClientNotFound != CodeCompanyNotFound {
		c.updateClientNotFound = CodeSubAccountNotFound
	}
	if o.Accounts != nil {
		c.accounts = maps.Clone(o.Accounts)
	}
	c.ratePerSecond = cmp.Or(c.ratePerSecond, DefaultRateLimitPerSecond)
	c.daily = cmp.Or(c.daily, DefaultDailyLimit)
	c.maxObjects = simkit.PositiveOr(c.maxObjects, DefaultMaxObjects)
	if c.now == nil {
		c.now = time.Now
	}
	if c.zone == nil {
		c.zone = defaultCompanyZone()
	}
	c.missingEmailCode = cmp.Or(c.missingEmailCode, DefaultMissingEmailCode)
	c.firstID = simkit.PositiveOr(c.firstID, DefaultFirstID)
	return c
}

// defaultCompanyZone is America/New_York, or a fixed UTC-5 zone when the
// system has no tzdata (the simulator does not embed time/tzdata so that it
// adds nothing to binaries that link it).
func defaultCompanyZone() *time.Location {
	if loc, err := time.LoadLocation("America/New_York"); err == nil {
		return loc
	}
	return time.FixedZone("EST", -5*60*60)
}
