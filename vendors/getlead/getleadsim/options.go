package getleadsim

import (
	"cmp"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Options configure a simulator. The zero value of each field means the
// default, so Options{} is a usable Getlead account.
type Options struct {
	// Token is the classic API token; default DefaultToken. It must start
	// with "gl_".
	Token string
	// APIKey is the V3 bearer key; default DefaultAPIKey. It must start
	// with "ik_".
	APIKey string
	// Statuses are the account's lead statuses in order, ids 1, 2, …;
	// default DefaultStatuses. New leads get the first.
	Statuses []string
	// CustomFields are additional-field keys known from the start (V3
	// accepts only known keys), of type text; the classic API adds keys on
	// first use.
	CustomFields []string
	// Fields are typed custom fields known from the start, listed in /meta
	// after CustomFields with their type and allowed values. V3 create and
	// update refuse (422) a value that does not fit its field's type: a
	// date not YYYY-MM-DD, a date-time not YYYY-MM-DDTHH:mm:ss, a number
	// that is not numeric, a select or multi-select value that is not one
	// of the stored values (labels are refused).
	Fields []Field
	// LenientFields turns those checks off: V3 stores any scalar.
	LenientFields bool
	// V3RateLimit is how many V3 requests are answered per V3RateWindow
	// before 429; default 0 = no limit.
	V3RateLimit int
	// V3RateWindow is the fixed window of V3RateLimit; default one minute.
	V3RateWindow time.Duration
	// DefaultPerPage and MaxPerPage bound GET /leads pages; defaults 15 and
	// 100.
	DefaultPerPage, MaxPerPage int
	// Now is the clock for timestamps and rate windows; default time.Now.
	// It must be safe for concurrent use.
	Now func() time.Time
}

// Field is a custom field of the account as /meta shows it.
type Field struct {
	Key string
	// Type is Getlead's field type: text (default), textarea, email, phone,
	// url, number, numeric, integer, boolean, select, multiselect, date,
	// datetime.
	Type string
	// Options are the allowed values of a select or multiselect.
	Options []Option
}

// Option is an allowed value of a select: the stored value, which V3
// takes and returns, and the label users see (label "25000", value
// "_25000").
type Option struct {
	Label, Value string
}

// Defaults that the zero values of Options stand for.
const (
	DefaultToken        = "gl_sim_token"
	DefaultAPIKey       = "ik_sim_key"
	DefaultPerPage      = 15
	DefaultMaxPerPage   = 100
	DefaultV3RateWindow = time.Minute
)

// DefaultStatuses are the statuses of a new account.
var DefaultStatuses = []string{"New", "Contacted", "Interested", "Qualified", "Not Interested", "Won", "Lost"}

type config struct {
	token, apiKey  string
	statuses       []string
	customFields   []string
	fields         []Field
	lenient        bool
	rateLimit      int
	rateWindow     time.Duration
	perPage, maxPP int
	now            func() time.Time
}

func (o Options) config() config {
	c := config{
		token: o.Token, apiKey: o.APIKey, statuses: o.Statuses, customFields: o.CustomFields, fields: o.Fields, lenient: o.LenientFields,
		rateLimit: o.V3RateLimit, rateWindow: o.V3RateWindow, perPage: o.DefaultPerPage, maxPP: o.MaxPerPage, now: o.Now,
	}
	c.token = cmp.Or(c.token, DefaultToken)
	c.apiKey = cmp.Or(c.apiKey, DefaultAPIKey)
	if len(c.statuses) == 0 {
		c.statuses = DefaultStatuses
	}
	c.rateWindow = simkit.PositiveOr(c.rateWindow, DefaultV3RateWindow)
	c.perPage = simkit.PositiveOr(c.perPage, DefaultPerPage)
	c.maxPP = simkit.PositiveOr(c.maxPP, DefaultMaxPerPage)
	if c.now == nil {
		c.now = time.Now
	}
	return c
}
