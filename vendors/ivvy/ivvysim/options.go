package ivvysim

import (
	"maps"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Options configure a simulator. The zero value of each field means the
// documented (or assumed) default, so Options{} is a usable iVvy account.
type Options struct {
	// Keys maps API key → secret. Default {DefaultKey: DefaultSecret}.
	Keys map[string]string
	// Now is the clock for the 5-minute window, modifiedDate and batch
	// timing. Default time.Now. It must be safe for concurrent use.
	Now func() time.Time
	// MaxSkew is how far a request's date may be from Now. Default 5
	// minutes (spec §2.2); older or newer requests get 401/23005.
	MaxSkew time.Duration
	// PerPageCap clamps perPage on every list (silently, as iVvy does).
	// Default 100 (the documented cap for industries; others are unknown).
	PerPageCap int
	// DefaultPerPage is used when perPage is not sent. Default 20 (assumed).
	DefaultPerPage int
	// LeadFilters is what getLeadList does with a filter object, for which
	// iVvy documents no keys. Default LeadFiltersRefused: any filter key is
	// answered 400/23016 naming it, the most defensive reading of an
	// undocumented filter.
	LeadFilters LeadFilterMode
	// IgnoreLeadFilters is LeadFilters: LeadFiltersIgnored (kept for
	// existing set-ups); it wins over LeadFilters.
	IgnoreLeadFilters bool
	// OmitLeadCustomFields leaves customFields out of getLeadList items
	// (whether iVvy returns them there is not documented). Default false.
	OmitLeadCustomFields bool
	// LeadCustomFields lists the accepted lead custom field ids; a lead
	// write with another id gets 400/23016. Default nil: any positive id.
	LeadCustomFields []int64
	// RateLimitPerSecond answers 429 to the requests of one key beyond this
	// many in any one-second sliding window. Default 0: no limit (iVvy
	// publishes none).
	RateLimitPerSecond int
	// BatchProgressSteps is how many batch?action=progress calls a batch
	// takes to reach 100 %. Default 0: jobs run when the batch is queued and
	// progress is 100 at once.
	BatchProgressSteps int
	// HTTPClient posts batch callbacks. Default a client with a 10 s timeout.
	HTTPClient *http.Client
}

// LeadFilterMode is how getLeadList treats its (undocumented) filters.
type LeadFilterMode int

const (
	// LeadFiltersRefused answers a filtered getLeadList with 400/23016
	// "'filter' failed validation", the unknown key in additionalMessages.
	LeadFiltersRefused LeadFilterMode = iota
	// LeadFiltersHonoured applies filters on any top-level lead key,
	// contactId and companyId, with the generic modifiers.
	LeadFiltersHonoured
	// LeadFiltersIgnored answers as if no filter had been sent.
	LeadFiltersIgnored
)

// Default credentials.
const (
	DefaultKey    = "sim-key"
	DefaultSecret = "sim-secret"
)

type config struct {
	keys           map[string]string
	now            func() time.Time
	maxSkew        time.Duration
	perPageCap     int
	defaultPerPage int
	leadFilters    LeadFilterMode
	omitLeadCustom bool
	leadCustom     map[int64]bool // nil: any
	ratePerSecond  int
	batchSteps     int
	http           *http.Client
}

func (o Options) config() config {
	c := config{
		keys: map[string]string{DefaultKey: DefaultSecret}, now: o.Now, maxSkew: o.MaxSkew,
		perPageCap: o.PerPageCap, defaultPerPage: o.DefaultPerPage, leadFilters: o.LeadFilters,
		omitLeadCustom: o.OmitLeadCustomFields, ratePerSecond: o.RateLimitPerSecond, batchSteps: o.BatchProgressSteps,
	}
	if o.IgnoreLeadFilters {
		c.leadFilters = LeadFiltersIgnored
	}
	if o.Keys != nil {
		c.keys = maps.Clone(o.Keys)
	}
	c.http = o.HTTPClient
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.maxSkew = simkit.PositiveOr(c.maxSkew, 5*time.Minute)
	c.perPageCap = simkit.PositiveOr(c.perPageCap, 100)
	c.defaultPerPage = simkit.PositiveOr(c.defaultPerPage, 20)
	if o.LeadCustomFields != nil {
		c.leadCustom = map[int64]bool{}
		for _, id := range o.LeadCustomFields {
			c.leadCustom[id] = true
		}
	}
	return c
}
