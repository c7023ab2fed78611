package mappings

import "github.com/crmsync/crmsync/pipeline"

// LeadCodec translates one vendor's lead fields to and from the canonical
// lead. Implementations are pure. Each vendor has one (SharpSpringLeads,
// LeadExecLeads, ...); a route from A to B decodes with A's and encodes with
// B's.
type LeadCodec interface {
	// Vendor is the vendor name used in events and identity keys.
	Vendor() string
	// Decode turns the vendor's fields, as carried by an event, into a
	// canonical lead. Fields the vendor has that are neither standard nor
	// in the catalog are left out. An error wrapping ErrInvalid means the
	// record can never be mapped.
	Decode(fields map[string]string) (Lead, error)
	// Encode turns a canonical lead into the vendor's fields. Canonical
	// fields the vendor has no place for are left out.
	Encode(l Lead) map[string]string
	// Keys are the identity keys of the lead at this vendor that can be
	// derived from canonical values (e.g. the lower-cased email, the E.164
	// phone), most specific first.
	Keys(l Lead) []pipeline.Key
	// NaturalKeys are the vendor fields that address a lead whose vendor id
	// is unknown (SharpSpring: emailAddress); sent with every write without
	// an id.
	NaturalKeys(l Lead) map[string]string
}
