package mappings

import (
	"maps"

	"github.com/crmsync/crmsync/pipeline"
)

// CanonicalLeads is the codec of a target that takes leads in crmsync's own
// canonical field names (first_name, email, a catalog name…): the Kafka
// change stream that warehouses read. It has no identity keys of its own;
// a record is known by its canonical id.
type CanonicalLeads struct {
	// Name is the target's vendor name in routes ("kafka").
	Name    string
	Catalog *Catalog
}

// Vendor implements LeadCodec.
func (c CanonicalLeads) Vendor() string { return c.Name }

// Decode keeps the canonical lead fields and leaves out anything else.
func (c CanonicalLeads) Decode(fields map[string]string) (Lead, error) {
	l := Lead{}
	for f, v := range fields {
		if IsLeadField(c.Catalog, f) {
			l[f] = v
		}
	}
	return l, nil
}

// Encode implements LeadCodec: the canonical fields as they are.
func (c CanonicalLeads) Encode(l Lead) map[string]string { return maps.Clone(map[string]string(l)) }

// Keys implements LeadCodec: none beyond the canonical id.
func (CanonicalLeads) Keys(Lead) []pipeline.Key { return nil }

// NaturalKeys implements LeadCodec: none.
func (CanonicalLeads) NaturalKeys(Lead) map[string]string { return nil }

// CanonicalClients is CanonicalLeads for clients.
type CanonicalClients struct {
	Name string
}

// Vendor implements ClientCodec.
func (c CanonicalClients) Vendor() string { return c.Name }

// Decode keeps the canonical client fields.
func (CanonicalClients) Decode(fields map[string]string) (Client, error) {
	c := Client{}
	for _, f := range ClientFields {
		if v, ok := fields[f]; ok {
			c[f] = v
		}
	}
	return c, nil
}

// Encode implements ClientCodec: the canonical fields as they are.
func (CanonicalClients) Encode(c Client) map[string]string { return maps.Clone(map[string]string(c)) }

// Keys implements ClientCodec: none beyond the canonical id.
func (CanonicalClients) Keys(Client) []pipeline.Key { return nil }

// NaturalKeys implements ClientCodec: none.
func (CanonicalClients) NaturalKeys(Client) map[string]string { return nil }
