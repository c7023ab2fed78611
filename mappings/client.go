package mappings

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
)

// Canonical client field names. A client is a business customer account:
// a SharpSpring agency sub-account, a LeadExec client (buyer). Company,
// Phone, Email, FirstName, LastName, MobilePhone, Fax and Title (the
// contact's), Street, City, State, Zip, Country and Website are shared with
// leads.
const (
	// ClientStatus is "active" or "inactive" (ClientActive,
	// ClientInactive): whether the client may be sent to / may send.
	ClientStatus = "status"
	// EmailSendLimit is the client's email send limit, a whole number ≥ 0.
	EmailSendLimit = "email_send_limit"
	// Locale is a language_COUNTRY code such as en_US.
	Locale = "locale"
	// Currency is an ISO 4217 code such as USD.
	Currency = "currency"
	// TimeZone is an IANA zone name such as America/New_York.
	TimeZone = "time_zone"
	// SalesStartHour and SalesEndHour bound the sales day, 0–24.
	SalesStartHour = "sales_start_hour"
	SalesEndHour   = "sales_end_hour"
	// UserEmail, UserDisplayName and UserPassword describe a login to
	// create with the client (SharpSpring createClient). The password is a
	// secret: it travels only if a source provides it and is never logged.
	UserEmail       = "user_email"
	UserDisplayName = "user_display_name"
	UserPassword    = "user_password"
)

// Client statuses.
const (
	ClientActive   = "active"
	ClientInactive = "inactive"
)

// Client is a canonical client change: canonical field name → value. An
// absent field is unchanged; an empty value clears it.
type Client map[string]string

// ClientFields lists every canonical client field.
var ClientFields = []string{
	Company, Phone, Email, FirstName, LastName, MobilePhone, Fax, Title, Street, City, State, Zip, Country, Website,
	ClientStatus, EmailSendLimit, Locale, Currency, TimeZone, SalesStartHour, SalesEndHour,
	UserEmail, UserDisplayName, UserPassword,
}

// Validate checks the values whose form the canonical model fixes: status
// and the send limit. Vendor rules (required fields, code lists) are the
// vendor codec's and sink's business.
func (c Client) Validate() error {
	if s, ok := c[ClientStatus]; ok && s != ClientActive && s != ClientInactive {
		return fmt.Errorf("%w: client status %q is neither %q nor %q", ErrInvalid, s, ClientActive, ClientInactive)
	}
	if s, ok := c[EmailSendLimit]; ok && s != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil || n < 0 {
			return fmt.Errorf("%w: email send limit %q is not a whole number ≥ 0", ErrInvalid, s)
		}
	}
	return nil
}

// decodeClient turns a vendor's client fields into a canonical client
// through std (canonical name → vendor field), leaving out the fields std
// does not name. value converts each value; keep false leaves the field
// out, and an error refuses the record.
func decodeClient(std, fields map[string]string, value func(name, field, v string) (out string, keep bool, err error)) (Client, error) {
	rev := invert(std)
	c := Client{}
	for f, v := range fields {
		name, ok := rev[f]
		if !ok {
			continue
		}
		v, keep, err := value(name, f, v)
		if err != nil {
			return nil, err
		}
		if keep {
			c[name] = v
		}
	}
	return c, nil
}

// encodeClient turns a canonical client into a vendor's client fields
// through std (canonical name → vendor field), leaving out the names std
// does not list. value converts each value; keep false leaves it out.
func encodeClient(std map[string]string, c Client, value func(name, v string) (out string, keep bool)) map[string]string {
	out := make(map[string]string, len(c))
	for name, v := range c {
		f, ok := std[name]
		if !ok {
			continue
		}
		if v, keep := value(name, v); keep {
			out[f] = v
		}
	}
	return out
}

// ClientCodec translates one vendor's client fields to and from the
// canonical client, like LeadCodec for leads. Implementations are pure.
type ClientCodec interface {
	Vendor() string
	// Decode turns the vendor's fields, as carried by an event, into a
	// canonical client; an error wrapping ErrInvalid can never be mapped.
	Decode(fields map[string]string) (Client, error)
	// Encode turns a canonical client into the vendor's fields.
	Encode(c Client) map[string]string
	// Keys are identity keys derivable from canonical values.
	Keys(c Client) []pipeline.Key
	// NaturalKeys are vendor fields that find a client whose id is unknown.
	NaturalKeys(c Client) map[string]string
}

// Identity key kinds of clients, besides pipeline.KindID.
const (
	// KindCompanyName is a client's company name, trimmed and lower-cased:
	// SharpSpring's only natural key for agency clients.
	KindCompanyName = "company"
	// KindUsername is a client's portal username, lower-cased (LeadExec
	// usernames are unique in an account).
	KindUsername = "username"
)

// ClientEventKeyer is implemented by client codecs whose records carry an
// identity key that is not a canonical value (LeadExec's Username). As the
// source of a route, such a codec's keys come from the event's fields
// (EventKeys) instead of Keys, which then names only what the vendor will
// hold once crmsync writes the client there.
type ClientEventKeyer interface {
	EventKeys(fields map[string]string) []pipeline.Key
}

// ClientRoute maps client events of one vendor to another's fields through
// the canonical client. It implements pipeline.Mapper. A delete event (the
// client is gone from the source) maps to status "inactive": targets
// disable the client rather than lose it.
type ClientRoute struct {
	From, To ClientCodec
}

// Map implements pipeline.Mapper.
func (m ClientRoute) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	from, to := m.From.Vendor(), m.To.Vendor()
	if ev.Vendor != from || ev.Entity != "client" {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("%s→%s clients: unexpected %s event", from, to, ev.Source()))
	}
	var c Client
	if ev.Op == pipeline.OpDelete {
		c = Client{ClientStatus: ClientInactive}
	} else {
		var err error
		if c, err = m.From.Decode(ev.Fields); err == nil {
			err = c.Validate()
		}
		if err != nil {
			return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("%s client %s: %w", from, ev.ExternalID, err))
		}
	}
	// Keys shared by both vendors' records are linked before anything is
	// written, so that the target's poller, reporting the record crmsync
	// creates there, finds the same canonical client even before the
	// write is settled (and its echo is recognised).
	keys := []pipeline.Key{{Vendor: from, Entity: "client", Kind: pipeline.KindID, Value: ev.ExternalID}}
	if ek, ok := m.From.(ClientEventKeyer); ok {
		keys = append(keys, ek.EventKeys(ev.Fields)...)
	} else {
		keys = append(keys, m.From.Keys(c)...)
	}
	keys = append(keys, m.To.Keys(c)...)
	mp := pipeline.Mapped{Keys: keys, Fields: m.To.Encode(c), NaturalKeys: m.To.NaturalKeys(c)}
	if ev.Op != pipeline.OpDelete {
		mp.SourceFields = m.From.Encode(c)
	}
	return mp, nil
}
