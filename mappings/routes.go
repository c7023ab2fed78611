package mappings

import (
	"fmt"
	"maps"
	"slices"

	"github.com/crmsync/crmsync/pipeline"
)

// LeadRoute maps lead events of one vendor to another's fields through the
// canonical lead. It implements pipeline.Mapper.
type LeadRoute struct {
	From, To LeadCodec
	// StatusMap translates lead statuses (source value → target value):
	// every vendor has its own vocabulary. A status without an entry is not
	// written; with no map, statuses are not synced at all. A canonical
	// target (the Kafka change stream) gets unmapped statuses as the source
	// has them.
	StatusMap map[string]string
	// Owners names the vendor that owns a canonical field (config
	// "ownership"). A field owned by a vendor other than the route's source
	// is written only when the route creates the record in the target.
	Owners map[string]string
}

// Map implements pipeline.Mapper.
func (m LeadRoute) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	from, to := m.From.Vendor(), m.To.Vendor()
	if ev.Vendor != from || ev.Entity != "lead" {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("%s→%s: unexpected %s event", from, to, ev.Source()))
	}
	if ev.Op == pipeline.OpDelete {
		// A lead deleted at the source stays in the other systems: deleting
		// sales records across CRMs is for people to decide.
		return pipeline.Mapped{}, fmt.Errorf("%w: %s lead %s was deleted at the source", pipeline.ErrSkip, from, ev.ExternalID)
	}
	lead, err := m.From.Decode(ev.Fields)
	if err != nil {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("%s lead %s: %w", from, ev.ExternalID, err))
	}
	if st, ok := lead[LeadStatus]; ok {
		_, canonical := m.To.(CanonicalLeads)
		if to, mapped := m.StatusMap[st]; mapped {
			lead[LeadStatus] = to
		} else if !canonical {
			// Another vendor's vocabulary: only mapped statuses are
			// written. The canonical stream takes the source's own.
			delete(lead, LeadStatus)
		}
	}
	keys := []pipeline.Key{{Vendor: from, Entity: "lead", Kind: pipeline.KindID, Value: ev.ExternalID}}
	if k, ok := m.From.(EventKeyer); ok {
		keys = append(keys, k.EventKeys(ev.Fields)...)
	}
	keys = append(keys, m.From.Keys(lead)...)
	keys = append(keys, m.To.Keys(lead)...)
	return pipeline.Mapped{
		Keys:        keys,
		Fields:      m.To.Encode(lead),
		CreateOnly:  m.ownedElsewhere(lead, from),
		NaturalKeys: m.To.NaturalKeys(lead),
		// What the source holds now, in its own field names and normalised
		// the way the reverse route would encode it: the write ledger keeps
		// it so that a reverse route does not echo it back.
		SourceFields: m.From.Encode(lead),
	}, nil
}

// EventKeyer is implemented by a codec whose events carry identity keys
// that are not canonical fields (iVvy: the id of the lead's contact). The
// route links them to the record after the source's own id and before the
// shared natural keys: they name the same vendor record more surely than an
// email does.
type EventKeyer interface {
	EventKeys(fields map[string]string) []pipeline.Key
}

// ownedElsewhere returns the target fields that carry canonical fields
// owned by a vendor other than from.
func (m LeadRoute) ownedElsewhere(lead Lead, from string) []string {
	var foreign Lead
	for f, v := range lead {
		if o, ok := m.Owners[f]; ok && o != from {
			if foreign == nil {
				foreign = Lead{}
			}
			foreign[f] = v
		}
	}
	if foreign == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(m.To.Encode(foreign)))
}

// LeadExecToSharpSpring is the mapper of the LeadExec → SharpSpring lead
// route.
func LeadExecToSharpSpring(cat *Catalog) LeadRoute {
	return LeadRoute{From: LeadExecLeads{Catalog: cat}, To: SharpSpringLeads{Catalog: cat}}
}
