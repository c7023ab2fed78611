package mappings

import (
	"fmt"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/pipeline"
)

// LeadRoute maps lead events of one vendor to another's fields through the
// canonical lead. It implements pipeline.Mapper.
type LeadRoute struct {
	From, To LeadCodec
}

// Map implements pipeline.Mapper.
func (m LeadRoute) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	from, to := m.From.Vendor(), m.To.Vendor()
	if ev.Vendor != from || ev.Entity != "lead" {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("%s→%s: unexpected %s event", from, to, ev.Source()))
	}
	lead, err := m.From.Decode(ev.Fields)
	if err != nil {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("%s lead %s: %w", from, ev.ExternalID, err))
	}
	keys := []checkpoints.Key{{Vendor: from, Entity: "lead", Kind: checkpoints.KindID, Value: ev.ExternalID}}
	keys = append(keys, m.From.Keys(lead)...)
	keys = append(keys, m.To.Keys(lead)...)
	return pipeline.Mapped{
		Keys:        keys,
		Fields:      m.To.Encode(lead),
		NaturalKeys: m.To.NaturalKeys(lead),
		// What the source holds now, in its own field names and normalised
		// the way the reverse route would encode it: the write ledger keeps
		// it so that a reverse route does not echo it back.
		SourceFields: m.From.Encode(lead),
	}, nil
}

// LeadExecToSharpSpring is the mapper of the LeadExec → SharpSpring lead
// route.
func LeadExecToSharpSpring(cat *Catalog) LeadRoute {
	return LeadRoute{From: LeadExecLeads{Catalog: cat}, To: sharpSpringLeadCodec{cat: cat}}
}

// sharpSpringLeadCodec encodes canonical leads for SharpSpring.
type sharpSpringLeadCodec struct{ cat *Catalog }

func (sharpSpringLeadCodec) Vendor() string { return "sharpspring" }
func (c sharpSpringLeadCodec) Decode(fields map[string]string) (Lead, error) {
	return FromSharpSpring(fields, c.cat), nil
}
func (c sharpSpringLeadCodec) Encode(l Lead) map[string]string { return ToSharpSpring(l, c.cat) }
func (sharpSpringLeadCodec) Keys(l Lead) []checkpoints.Key     { return emailKey("sharpspring", l) }
func (sharpSpringLeadCodec) NaturalKeys(l Lead) map[string]string {
	if e := l[Email]; e != "" {
		return map[string]string{SharpSpringEmailField: e}
	}
	return nil
}
