package leadexec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// Read implements pipeline.TargetReader for LeadExec clients through the
// ASMX service: a record is found by its ClientUID when it has one, else by
// the Username Write would give it (its mappings.LeadExecUsernameField
// natural key, or the one derived from the record key) in GetClientList,
// which is read at most once per Read. A Username no client has, or that
// two clients have, reads as nil (not held). Each client found costs one
// GetClientData. A ClientUID whose GetClientData lists no fields reads as
// nil unless GetClientList still lists the client.
//
// Values are the client fields by SpecialBit name (Company, PrimaryPhone,
// City, ...: the first field of each SpecialBit, never matched by its
// Descriptor), as Write places them. A field the record carries that
// cannot be read back is returned as the record holds it, so a replay
// neither reports it as drift nor writes it again: Status (GetClientList
// gives the status as a number whose meaning LeadExec does not document)
// and fields the account has no readable client field for (no field of
// that SpecialBit, or only one marked isState, which holds a state id that
// Write never writes). A change made to those in LeadExec cannot be
// detected.
//
// Errors of GetClientList and GetClientData are returned as they are
// (*leadexec.Error); nothing is retried here.
func (s *ClientSink) Read(ctx context.Context, recs []*pipeline.Record) ([]map[string]string, error) {
	out := make([]map[string]string, len(recs))
	var listed map[int64]bool
	var names map[string][]int64
	list := func() error {
		if listed != nil {
			return nil
		}
		cl, err := s.api.GetClientList(ctx)
		if err != nil {
			return err
		}
		listed, names = map[int64]bool{}, map[string][]int64{}
		for _, c := range cl {
			listed[c.ClientUID] = true
			if u := strings.ToLower(strings.TrimSpace(c.Username)); u != "" {
				names[u] = append(names[u], c.ClientUID)
			}
		}
		return nil
	}
	for i, r := range recs {
		id, _ := strconv.ParseInt(r.TargetID, 10, 64)
		if id <= 0 {
			if err := list(); err != nil {
				return nil, err
			}
			ids := names[strings.ToLower(strings.TrimSpace(clientUsername(r)))]
			if len(ids) != 1 {
				continue
			}
			id = ids[0]
		}
		fs, err := s.api.GetClientData(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("leadexec client %d: %w", id, err)
		}
		if len(fs) == 0 {
			// An unknown client answers no fields; so would a client of
			// an account without client fields.
			if err := list(); err != nil {
				return nil, err
			}
			if !listed[id] {
				continue
			}
		}
		out[i] = clientValues(r, fs)
	}
	return out, nil
}

// clientValues are a client's field values by SpecialBit name, plus the
// record's values of the fields that cannot be read back.
func clientValues(r *pipeline.Record, fs []leadexec.ClientField) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		// As Write: a field marked isState holds a state id, not a value
		// crmsync writes or compares.
		if f.SpecialBit <= leadexec.SpecialNone || f.IsState {
			continue
		}
		if _, dup := m[f.SpecialBit.String()]; !dup {
			m[f.SpecialBit.String()] = f.FieldValue
		}
	}
	for f, v := range r.Fields {
		if _, ok := m[f]; !ok || f == mappings.LeadExecClientStatus {
			m[f] = v // not readable: reported as the record has it
		}
	}
	return m
}

// clientUsername is the Username of a record without a target id: its
// natural key (email or company), else a name derived from the record key
// that is still the same on a retry, so that Write's lookup finds a lost
// create and Read finds what Write made.
func clientUsername(r *pipeline.Record) string {
	if u := r.NaturalKeys[mappings.LeadExecUsernameField]; u != "" {
		return u
	}
	h := sha256.Sum256([]byte(r.Key))
	return "crmsync-" + hex.EncodeToString(h[:5])
}
