package mappings

import (
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/pipeline"
)

// LeadExecToSharpSpring maps LeadExec lead events to SharpSpring lead fields.
type LeadExecToSharpSpring struct {
	Catalog *Catalog
}

// Map implements pipeline.Mapper.
func (m LeadExecToSharpSpring) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	if ev.Vendor != "leadexec" || ev.Entity != "lead" {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", fmt.Errorf("leadexec→sharpspring: unexpected %s event", ev.Source()))
	}
	lead, _, err := FromLeadExec(ev.Fields, m.Catalog)
	if err != nil {
		return pipeline.Mapped{}, pipeline.Permanent("mapping", err)
	}
	keys := []checkpoints.Key{{Vendor: "leadexec", Entity: "lead", Kind: checkpoints.KindID, Value: ev.ExternalID}}
	natural := map[string]string{}
	if e := lead[Email]; e != "" {
		keys = append(keys, checkpoints.Key{Vendor: "sharpspring", Entity: "lead", Kind: checkpoints.KindEmail, Value: strings.ToLower(e)})
		natural[SharpSpringEmailField] = e
	}
	return pipeline.Mapped{Keys: keys, Fields: ToSharpSpring(lead, m.Catalog), NaturalKeys: natural}, nil
}
