package leadexec

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// ClientAPI is what the client sink needs from the LeadExec client
// (*leadexec.Client implements it).
type ClientAPI interface {
	GetClientList(ctx context.Context) ([]leadexec.ClientInfo, error)
	GetClientData(ctx context.Context, clientUID int64) ([]leadexec.ClientField, error)
	EditClient(ctx context.Context, edit leadexec.ClientEdit) (int64, error)
}

// ClientSinkConfig configures a ClientSink. The zero value is usable.
type ClientSinkConfig struct {
	// NewPassword returns the web-portal password of a client the sink
	// creates. Default: 24 random URL-safe characters from crypto/rand.
	NewPassword func() (string, error)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ClientSink is a pipeline.Sink for LeadExec clients (see the package
// documentation). Records carry mappings.LeadExecClients fields. Each
// edit costs three requests (GetClientList and GetClientData to read the
// client, AddEditClient to write it whole), a create one AddEditClient (and
// an edit more for a client created before any client field is known), plus
// per Write at most one GetClientList (when a record has no target id) and
// one GetClientData (to learn the account's client fields). Safe for
// concurrent use.
type ClientSink struct {
	api     ClientAPI
	newPass func() (string, error)
	log     *slog.Logger
}

// NewClientSink returns a client sink writing through api.
func NewClientSink(cfg ClientSinkConfig, api ClientAPI) *ClientSink {
	s := &ClientSink{api: api, newPass: cfg.NewPassword, log: cfg.Logger}
	if s.newPass == nil {
		s.newPass = randomPassword
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SkipNothingToDeactivate is the Outcome.Skip of a client to deactivate
// that was never created in LeadExec.
const SkipNothingToDeactivate = "the client was never created in LeadExec: nothing to deactivate"

// clientBatch holds what one Write learned from LeadExec.
type clientBatch struct {
	s         *ClientSink
	usernames map[string][]int64 // lower-cased Username → ClientUIDs; nil until listed
	anyClient int64              // a ClientUID whose GetClientData lists the account's fields
	fields    map[string]int64   // SpecialBit name → ClientFieldUID; nil until read
}

// Write implements pipeline.Sink: one outcome per record, in order.
func (s *ClientSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := make([]pipeline.Outcome, len(recs))
	b := &clientBatch{s: s}
	for i, r := range recs {
		id, skip, err := b.write(ctx, r)
		switch {
		case err != nil:
			out[i] = pipeline.Outcome{Err: classify(err)}
		case skip != "":
			out[i] = pipeline.Outcome{Skip: skip}
		default:
			out[i] = pipeline.Outcome{TargetID: strconv.FormatInt(id, 10)}
		}
	}
	return out
}

// list reads the client list once per Write.
func (b *clientBatch) list(ctx context.Context) (map[string][]int64, error) {
	if b.usernames != nil {
		return b.usernames, nil
	}
	cl, err := b.s.api.GetClientList(ctx)
	if err != nil {
		return nil, err
	}
	b.usernames = map[string][]int64{}
	for _, c := range cl {
		if u := strings.ToLower(strings.TrimSpace(c.Username)); u != "" {
			b.usernames[u] = append(b.usernames[u], c.ClientUID)
		}
		if b.anyClient == 0 {
			b.anyClient = c.ClientUID
		}
	}
	return b.usernames, nil
}

// fieldUIDs reads the account's client fields (GetClientData of any
// client) once per Write; false when no client is known to read them from.
func (b *clientBatch) fieldUIDs(ctx context.Context, client int64) (map[string]int64, bool, error) {
	if b.fields != nil {
		return b.fields, true, nil
	}
	if client <= 0 {
		client = b.anyClient
	}
	if client <= 0 {
		return nil, false, nil
	}
	fs, err := b.s.api.GetClientData(ctx, client)
	if err != nil {
		return nil, false, err
	}
	if len(fs) == 0 {
		return nil, false, nil // an unknown client answers no fields
	}
	b.fields = map[string]int64{}
	for _, f := range fs {
		// A field marked isState takes a LeadExec state id, whose
		// numbering is not documented: a state name is not written there.
		if f.SpecialBit <= leadexec.SpecialNone || f.IsState {
			continue
		}
		if _, dup := b.fields[f.SpecialBit.String()]; !dup {
			b.fields[f.SpecialBit.String()] = f.ClientFieldUID
		}
	}
	return b.fields, true, nil
}

// fieldData places the record's fields by SpecialBit; fields the account
// has no client field for are left out with a warning.
func (b *clientBatch) fieldData(r *pipeline.Record, values map[string]string, uids map[string]int64) []leadexec.FieldData {
	var fd []leadexec.FieldData
	for _, name := range slices.Sorted(maps.Keys(values)) {
		uid, ok := uids[name]
		if !ok {
			b.s.log.Warn("leadexec client: the account has no client field with this SpecialBit; value not written",
				"special_bit", name, "record", r.Key)
			continue
		}
		fd = append(fd, leadexec.FieldData{ClientFieldUID: uid, Value: values[name]})
	}
	return fd
}

// write applies one record and returns the ClientUID, or why nothing was
// written.
func (b *clientBatch) write(ctx context.Context, r *pipeline.Record) (int64, string, error) {
	var status leadexec.ClientStatus
	values := map[string]string{}
	for k, v := range r.Fields {
		if k == mappings.LeadExecClientStatus {
			status = leadexec.ClientStatus(v)
			continue
		}
		values[k] = v
	}
	id, _ := strconv.ParseInt(r.TargetID, 10, 64)
	username := clientUsername(r)
	if id <= 0 {
		if len(values) == 0 && status != leadexec.StatusActive {
			return 0, SkipNothingToDeactivate, nil
		}
		names, err := b.list(ctx)
		if err != nil {
			return 0, "", err
		}
		switch ids := names[strings.ToLower(username)]; len(ids) {
		case 0:
		case 1:
			id = ids[0] // created before, its answer lost (or made by hand): edit it
			b.s.log.Info("leadexec client: found an existing client with the username; editing it", "client", id, "record", r.Key)
		default:
			return 0, "", pipeline.Permanent("ambiguous", fmt.Errorf("leadexec: %d clients have the username %q; link one by hand", len(ids), username))
		}
	}
	if id > 0 {
		return id, "", b.edit(ctx, r, id, status, values)
	}
	return b.create(ctx, r, username, status, values)
}

func (b *clientBatch) edit(ctx context.Context, r *pipeline.Record, id int64, status leadexec.ClientStatus, values map[string]string) error {
	edit := leadexec.ClientEdit{Info: leadexec.ClientEditInfo{ClientUID: id, Status: status}}
	if len(values) > 0 {
		uids, ok, err := b.fieldUIDs(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return pipeline.Permanent("not_found", fmt.Errorf("leadexec: client %d has no client fields (deleted in LeadExec?)", id))
		}
		edit.FieldData = b.fieldData(r, values, uids)
	}
	if edit.Info.Status == "" && len(edit.FieldData) == 0 {
		return nil
	}
	_, err := b.s.api.EditClient(ctx, edit)
	return err
}

func (b *clientBatch) create(ctx context.Context, r *pipeline.Record, username string, status leadexec.ClientStatus, values map[string]string) (int64, string, error) {
	uids, known, err := b.fieldUIDs(ctx, 0)
	if err != nil {
		return 0, "", err
	}
	pw, err := b.s.newPass()
	if err != nil {
		return 0, "", fmt.Errorf("leadexec client: password: %w", err)
	}
	edit := leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Username: username, Password: pw, Status: status}}
	if known {
		edit.FieldData = b.fieldData(r, values, uids)
	}
	id, err := b.s.api.EditClient(ctx, edit)
	if err != nil {
		return 0, "", err
	}
	if b.usernames != nil {
		b.usernames[strings.ToLower(username)] = []int64{id}
	}
	if b.anyClient == 0 {
		b.anyClient = id
	}
	if !known && len(values) > 0 {
		// The account had no client to read the field list from: read it
		// from the new client and set the fields in a second call.
		if err := b.edit(ctx, r, id, "", values); err != nil {
			return id, "", err
		}
	}
	return id, "", nil
}
