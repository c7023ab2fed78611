package sharpspring

import (
	"context"
	"errors"
	"html"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// ClientAPI is what the client sink needs from the SharpSpring client
// (*sharpspring.Client implements it).
type ClientAPI interface {
	GetClients(ctx context.Context) ([]sharpspring.AgencyClient, error)
	CreateClient(ctx context.Context, params map[string]any) (sharpspring.CreatedClient, error)
	UpdateClient(ctx context.Context, id int64, params map[string]any) error
	UpdateAccountSendLimit(ctx context.Context, clientID, emailLimit int64) error
	EnableAccountSending(ctx context.Context, clientID int64) error
	DisableAccountSending(ctx context.Context, clientID int64) error
}

// ClientSinkConfig configures a ClientSink. The zero value is usable.
type ClientSinkConfig struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// QuotaProbeInterval is how long writes pause when SharpSpring answers
	// 106 (daily method call limit reached); see
	// LeadSinkConfig.QuotaProbeInterval. Default 1h.
	QuotaProbeInterval time.Duration
}

// ClientSink is a pipeline.Sink for SharpSpring agency clients. Records
// carry SharpSpring client parameters plus the pseudo-fields
// mappings.SharpSpringClientSendLimit ("emailLimit") and
// mappings.SharpSpringClientSending ("accountSending": enabled|disabled),
// as mappings.SharpSpringClients encodes them.
//
// Per record, in order: createClient when the record has no target id
// (after looking for a client of the same companyName, so a create whose
// answer was lost is not repeated), else updateClient with the changed
// parameters; then updateAccountSendLimit, then enable/disableAccountSending.
// Fields are checked first as SharpSpring would (sharpspring.ValidateClient)
// and refused with SharpSpring's own code. Errors 205/206/215/216/218/221/
// 223/304–307 are permanent and dead-letter with the vendor's message;
// rate limits, quota and transport failures are handed back for the
// pipeline to retry. Every call carries one client, so a batch costs at
// least one request per record; after a 106 no further request is sent
// and the records left fail with the same *pipeline.QuotaError. Safe for
// concurrent use.
//
// A createClient or updateClient whose answer was lost (a timeout or a
// dropped connection: SharpSpring may have applied it) is remembered for
// the record; when the record comes back with the same fields (the
// pipeline's retry), the client is read back with getClients and the call
// is not repeated when SharpSpring already holds what it sent (see
// landed). The memory is the process's own: after a restart the retry
// writes again, which is harmless, as the values are the same.
type ClientSink struct {
	api   ClientAPI
	log   *slog.Logger
	probe time.Duration

	mu   sync.Mutex
	lost map[string]lostWrite // record key → its client write whose answer was lost
}

// lostWrite is a client write whose answer was lost.
type lostWrite struct {
	fields string // the hash of the record's fields when it was sent
	method string // createClient or updateClient
	id     int64  // the client updated; 0 for a create
}

// clientList is getClients read once per Write.
type clientList struct {
	byName map[string][]int64 // lower-cased companyName → ids
	byID   map[int64]sharpspring.AgencyClient
}

// NewClientSink returns a sink writing through api.
func NewClientSink(cfg ClientSinkConfig, api ClientAPI) *ClientSink {
	log, probe := withDefaults(cfg.Logger, cfg.QuotaProbeInterval)
	return &ClientSink{api: api, log: log, probe: probe, lost: map[string]lostWrite{}}
}

// Write implements pipeline.Sink: one outcome per record, in order.
func (s *ClientSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := make([]pipeline.Outcome, len(recs))
	var existing *clientList // read once per Write
	var quota error          // SharpSpring's 106, once answered: send nothing more
	waiting := 0
	for i, r := range recs {
		if quota != nil {
			out[i] = pipeline.Outcome{Err: classify(quota, s.probe)}
			waiting++
			continue
		}
		id, err := s.write(ctx, r, func() (*clientList, error) {
			if existing != nil {
				return existing, nil
			}
			list, err := s.api.GetClients(ctx)
			if err != nil {
				return nil, err
			}
			existing = &clientList{byName: map[string][]int64{}, byID: map[int64]sharpspring.AgencyClient{}}
			for _, c := range list {
				k := nameKey(c["companyName"])
				existing.byName[k] = append(existing.byName[k], c.ID())
				existing.byID[c.ID()] = c
			}
			return existing, nil
		})
		if err != nil {
			if isVendorQuota(err) {
				quota = err
				waiting++
			}
			out[i] = pipeline.Outcome{Err: classify(err, s.probe)}
			continue
		}
		out[i] = pipeline.Outcome{}
		if id > 0 {
			out[i].TargetID = strconv.FormatInt(id, 10)
		}
		if existing != nil && id > 0 && r.TargetID == "" {
			k := nameKey(r.NaturalKeys["companyName"])
			existing.byName[k] = appendOnce(existing.byName[k], id)
		}
	}
	if quota != nil {
		logVendorQuota(s.log, "client", waiting, s.probe, quotaError(quota, s.probe))
	}
	return out
}

func nameKey(s string) string { return strings.ToLower(strings.TrimSpace(html.UnescapeString(s))) }

func appendOnce(ids []int64, id int64) []int64 {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

// write applies one record and returns the client id (0 when there is no
// client to write to).
func (s *ClientSink) write(ctx context.Context, r *pipeline.Record, existing func() (*clientList, error)) (int64, error) {
	sent := pipeline.FieldsHash(r.Fields)
	doubt, inDoubt := s.takeLost(r.Key, sent)
	params := map[string]string{}
	var limit, sending *string
	for k, v := range r.Fields {
		switch k {
		case mappings.SharpSpringClientSendLimit:
			limit = &v
		case mappings.SharpSpringClientSending:
			sending = &v
		default:
			params[k] = v
		}
	}
	id, _ := strconv.ParseInt(r.TargetID, 10, 64)
	adopted := false // found by companyName: created before, its answer lost
	if id <= 0 {
		if len(params) == 0 && limit == nil && sending != nil && *sending == "disabled" {
			// A client removed from its source that was never written here:
			// there is nothing to disable.
			return 0, nil
		}
		if name := r.NaturalKeys["companyName"]; name != "" {
			m, err := existing()
			if err != nil {
				return 0, err
			}
			if ids := m.byName[nameKey(name)]; len(ids) == 1 {
				id, adopted = ids[0], true // created before, its answer lost: update it instead
			}
		}
	}
	if id <= 0 {
		create := make(map[string]string, len(params)+1)
		for k, v := range r.NaturalKeys {
			create[k] = v
		}
		for k, v := range params {
			create[k] = v
		}
		if e := sharpspring.ValidateClient(create, true); e != nil {
			return 0, e
		}
		c, err := s.api.CreateClient(ctx, sharpspring.ClientObject(create))
		if err != nil {
			s.noteLost(r.Key, err, lostWrite{fields: sent, method: "createClient"})
			return 0, err
		}
		id = c.ID
	} else {
		if inDoubt && adopted && doubt.method == "createClient" {
			// The create whose answer was lost made this client when its
			// readable fields hold what it sent: createClient applies every
			// parameter or none, so nothing is left to write.
			m, err := existing()
			if err != nil {
				return id, err
			}
			if landed(m.byID[id], params, false) {
				s.log.Debug("sharpspring client: a create whose answer was lost was applied; not written again", "client", id, "record", r.Key)
				params = nil
			}
		}
		if adopted {
			delete(params, "companyName") // the name it was found by
		}
		if _, ok := params["companyName"]; ok {
			// updateClient has no companyName parameter: a rename cannot be
			// written. It must not block the other fields.
			s.log.Warn("sharpspring client: companyName cannot be changed through the API; rename not applied", "client", id, "record", r.Key)
			delete(params, "companyName")
		}
		for _, k := range []string{"userEmail", "userPassword", "userDisplayName"} {
			delete(params, k) // users are created with the client only
		}
		if len(params) > 0 && inDoubt && doubt.method == "updateClient" && doubt.id == id {
			m, err := existing()
			if err != nil {
				return id, err
			}
			if landed(m.byID[id], params, true) {
				s.log.Debug("sharpspring client: an update whose answer was lost was applied; not written again", "client", id, "record", r.Key)
				params = nil
			}
		}
		if len(params) > 0 {
			if e := sharpspring.ValidateClient(params, false); e != nil {
				return id, e
			}
			if err := s.api.UpdateClient(ctx, id, sharpspring.ClientObject(params)); err != nil {
				s.noteLost(r.Key, err, lostWrite{fields: sent, method: "updateClient", id: id})
				return id, err
			}
		}
	}
	// A cleared send limit ("") is not written: the API cannot remove one.
	if limit != nil && strings.TrimSpace(*limit) != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(*limit), 10, 64)
		if err != nil || n < 0 {
			return id, &sharpspring.Error{Method: "updateAccountSendLimit", Code: 205, Message: "Invalid parameters: emailLimit " + strconv.Quote(*limit) + " is not a whole number ≥ 0 (checked by crmsync before sending)"}
		}
		if err := s.api.UpdateAccountSendLimit(ctx, id, n); err != nil {
			return id, err
		}
	}
	if sending != nil {
		var err error
		switch *sending {
		case "enabled":
			err = s.api.EnableAccountSending(ctx, id)
		case "disabled":
			err = s.api.DisableAccountSending(ctx, id)
		case "":
		default:
			err = &sharpspring.Error{Method: "enableAccountSending", Code: 205, Message: "Invalid parameters: accountSending " + strconv.Quote(*sending) + " is neither enabled nor disabled (checked by crmsync before sending)"}
		}
		if err != nil {
			return id, err
		}
	}
	return id, nil
}

// noteLost remembers w for record key when err says its answer was lost.
func (s *ClientSink) noteLost(key string, err error, w lostWrite) {
	if !answerLost(err) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost[key] = w
}

// takeLost returns and forgets the lost write of record key, if it sent
// the fields the record holds now (else the record changed since and is
// written as it is).
func (s *ClientSink) takeLost(key, fields string) (lostWrite, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.lost[key]
	if !ok {
		return lostWrite{}, false
	}
	delete(s.lost, key)
	return w, w.fields == fields
}

// answerLost reports whether err is a call that got no answer, which
// SharpSpring may have applied: a transport failure (timeout, dropped
// connection) or an answer that could not be read. A failed dial is one
// too: the read-back settles it the same way.
func answerLost(err error) bool {
	var e *sharpspring.Error
	return errors.As(err, &e) && e.Code == 0 && e.HTTPStatus == 0
}

// landed reports whether client c, as getClients lists it, holds the
// params that a write whose answer was lost sent. getClients reports only
// some fields (clientReadable): with all false, the others are taken as
// written with them (a create applies all its parameters or none); with
// all true, a param that cannot be read back means the write cannot be
// confirmed.
func landed(c sharpspring.AgencyClient, params map[string]string, all bool) bool {
	if c == nil {
		return false
	}
	for k, v := range params {
		if !clientReadable[k] {
			if all {
				return false
			}
			continue
		}
		if !strings.EqualFold(strings.TrimSpace(html.UnescapeString(c[k])), strings.TrimSpace(v)) {
			return false
		}
	}
	return true
}
