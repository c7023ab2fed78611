// Package leadexec receives leads that LeadExec delivers to crmsync as a
// buyer ("client") delivery method, and publishes them as change events.
//
// LeadExec decides that a delivery succeeded by searching the reply body for
// a configured text (its "Result Search"); the receiver answers with that
// text only after the bus has stored the event, so a lead LeadExec counts as
// delivered is never lost. LeadExec retries failed deliveries; a retry of the
// same lead with the same content publishes nothing new.
package leadexec

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// Defaults of Config.
const (
	DefaultPath        = leadexec.DefaultWebhookPath
	DefaultSuccessText = leadexec.DefaultWebhookSuccessText
	DefaultIDField     = leadexec.DefaultWebhookIDField
	DefaultMaxBody     = leadexec.DefaultWebhookMaxBody // bytes
)

// MaxEventBytes is the largest event, JSON-encoded, the receiver publishes:
// the buses' default message limit (NATS max_payload and kafka-go's batch
// bytes, 1 MiB) less room for the message id, key and headers. A larger
// delivery is answered 413; the bus would refuse it on every retry. Escaping
// can make an event larger than its body (a control character sent as %01
// becomes \u0001).
const MaxEventBytes = 1<<20 - 16<<10

// Config configures the receiver. Zero values are the documented defaults.
type Config struct {
	// Path is the URL path LeadExec posts to; default "/webhooks/leadexec".
	Path string
	// BasicUser and BasicPassword require HTTP Basic auth when BasicUser is set.
	BasicUser, BasicPassword string
	// BearerToken requires "Authorization: Bearer <token>" when set. When
	// both are set either one is accepted.
	BearerToken string
	// SuccessText is the reply body for an accepted lead; set LeadExec's
	// Result Search to it (or to a part of it). Default {"status":"success"}.
	SuccessText string
	// IDField is the delivery field carrying the LeadExec lead id; default
	// "LeadUID". Map LeadExec's lead id special field to it.
	IDField string
	// ChangedAtField, if set, names a delivery field with the lead's change
	// time (RFC 3339, or "2006-01-02 15:04:05" / "1/2/2006 3:04:05 PM" in
	// Pacific Time as LeadExec writes dates). Without it, the time of receipt
	// is the change time.
	ChangedAtField string
	// MaxBody limits the request body; default DefaultMaxBody.
	MaxBody int64
	// PublishTimeout bounds the wait for the bus; default 10s.
	PublishTimeout time.Duration
}

func (c *Config) defaults() {
	c.Path = cmp.Or(c.Path, DefaultPath)
	c.SuccessText = cmp.Or(c.SuccessText, DefaultSuccessText)
	c.IDField = cmp.Or(c.IDField, DefaultIDField)
	c.MaxBody = poll.OrDefault(c.MaxBody, DefaultMaxBody)
	c.PublishTimeout = poll.OrDefault(c.PublishTimeout, 10*time.Second)
}

// Stats are the receiver's counts.
type Stats struct {
	Accepted   atomic.Int64
	Duplicates atomic.Int64
	mu         sync.Mutex
	rejected   map[string]int64
}

// Rejected returns rejections by reason ("auth", "too_large", "malformed",
// "missing_id", "invalid_email", "bus", "method", "media_type", "stopping").
func (s *Stats) Rejected() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.rejected))
	for k, v := range s.rejected {
		out[k] = v
	}
	return out
}

func (s *Stats) reject(reason string) {
	s.mu.Lock()
	if s.rejected == nil {
		s.rejected = map[string]int64{}
	}
	s.rejected[reason]++
	s.mu.Unlock()
}

// Receiver is the LeadExec webhook handler. It is safe for concurrent use.
type Receiver struct {
	cfg      Config
	pub      pipeline.Publisher
	state    pipeline.Receipts
	log      *slog.Logger
	now      func() time.Time
	stopping atomic.Bool
	pacific  *time.Location
	Stats    Stats
}

// NewReceiver returns a receiver publishing to pub. state keeps delivery
// receipts so retries beyond the bus's duplicate window stay harmless.
func NewReceiver(cfg Config, pub pipeline.Publisher, state pipeline.Receipts, log *slog.Logger) *Receiver {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		loc = time.FixedZone("PST", -8*3600)
	}
	return &Receiver{cfg: cfg, pub: pub, state: state, log: log, now: time.Now, pacific: loc}
}

// Path is where the receiver expects deliveries.
func (r *Receiver) Path() string { return r.cfg.Path }

// Stop makes the receiver answer 503 to new deliveries (LeadExec retries
// them later), for a graceful shutdown.
func (r *Receiver) Stop() { r.stopping.Store(true) }

type httpError struct {
	status int
	reason string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := r.serve(w, req); err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: http.StatusInternalServerError, reason: "internal", msg: "internal error"}
		}
		r.Stats.reject(he.reason)
		r.reply(w, he.status, map[string]string{"status": "rejected", "error": shorten(he.msg, 500)})
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) error {
	if r.stopping.Load() {
		w.Header().Set("Retry-After", "30")
		return &httpError{http.StatusServiceUnavailable, "stopping", "shutting down; retry later"}
	}
	if req.Method != http.MethodPost && req.Method != http.MethodGet {
		w.Header().Set("Allow", "POST, GET")
		return &httpError{http.StatusMethodNotAllowed, "method", "method " + req.Method + " not allowed; LeadExec must POST (or GET with a query string)"}
	}
	if !r.authorized(req) {
		if r.cfg.BasicUser != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="crmsync"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crmsync"`)
		}
		return &httpError{http.StatusUnauthorized, "auth", "missing or wrong credentials"}
	}
	fields, err := r.parse(w, req)
	if err != nil {
		return err
	}
	ev, err := r.event(fields)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.cfg.PublishTimeout)
	defer cancel()
	contentHash := pipeline.FieldsHash(ev.Fields)
	prev, err := r.state.Delivery(ctx, ev.Vendor, ev.Entity, ev.ExternalID)
	switch {
	case err == nil && prev == contentHash:
		r.Stats.Duplicates.Add(1)
		r.replyText(w, r.cfg.SuccessText)
		return nil
	case err != nil && !errors.Is(err, pipeline.ErrNotFound):
		r.log.Error("delivery receipt lookup failed", "err", err)
		w.Header().Set("Retry-After", "10")
		return &httpError{http.StatusServiceUnavailable, "state", "state unavailable; retry later"}
	}
	// The content this delivery follows is part of the event's identity:
	// a retry of it gets the same id (the bus drops it), while a lead that
	// changes back to earlier content (A → B → A) is a new event.
	if prev != "" {
		ev.Version += "+after:" + prev
	}
	if err := ev.Seal(); err != nil {
		return &httpError{http.StatusUnprocessableEntity, "malformed", err.Error()}
	}
	// An event the bus cannot store would be answered 503 on every retry,
	// and LeadExec would retry it forever.
	// Only an event that may be over the limit is encoded to measure it:
	// the bus encodes the event when it publishes it.
	if ev.SizeBound() > MaxEventBytes {
		if data, err := ev.Marshal(); err != nil || len(data) > MaxEventBytes {
			return &httpError{http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("lead is %d bytes as an event, over the %d bytes the event bus takes", len(data), MaxEventBytes)}
		}
	}
	if err := r.pub.Publish(ctx, ev); err != nil {
		r.log.Error("publish failed", "lead", ev.ExternalID, "err", err)
		w.Header().Set("Retry-After", "10")
		return &httpError{http.StatusServiceUnavailable, "bus", "event bus unavailable; retry later"}
	}
	if err := r.recordDelivery(ctx, ev, contentHash); err != nil {
		// The event is on the bus; a retry would be dropped by its id.
		r.log.Warn("recording delivery receipt failed", "lead", ev.ExternalID, "err", err)
	}
	r.Stats.Accepted.Add(1)
	r.replyText(w, r.cfg.SuccessText)
	return nil
}

// recordDelivery keeps the receipt of a delivery whose event is on the
// bus. A state that can queue it is not waited for: LeadExec's answer needs
// the event on the bus, not its receipt (see pipeline.QueuedReceipts).
func (r *Receiver) recordDelivery(ctx context.Context, ev pipeline.Event, contentHash string) error {
	if q, ok := r.state.(pipeline.QueuedReceipts); ok {
		return q.QueueDelivery(ctx, ev.Vendor, ev.Entity, ev.ExternalID, contentHash, ev.ID)
	}
	return r.state.RecordDelivery(ctx, ev.Vendor, ev.Entity, ev.ExternalID, contentHash, ev.ID)
}

func (r *Receiver) authorized(req *http.Request) bool {
	if r.cfg.BasicUser == "" && r.cfg.BearerToken == "" {
		return true
	}
	if r.cfg.BasicUser != "" {
		if u, p, ok := req.BasicAuth(); ok {
			uo := subtle.ConstantTimeCompare([]byte(u), []byte(r.cfg.BasicUser))
			po := subtle.ConstantTimeCompare([]byte(p), []byte(r.cfg.BasicPassword))
			if uo&po == 1 {
				return true
			}
		}
	}
	if r.cfg.BearerToken != "" {
		h := req.Header.Get("Authorization")
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), []byte(r.cfg.BearerToken)) == 1
		}
	}
	return false
}

// parse reads the delivery's fields from the query string and a form, JSON
// or XML body, as the LeadExec operator chose. Anything ambiguous (a field
// given twice, in the body or in both the query and the body) or not
// exactly readable is refused rather than guessed at.
func (r *Receiver) parse(w http.ResponseWriter, req *http.Request) (map[string]string, error) {
	fields, err := parseForm("query string", req.URL.RawQuery)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "malformed", err.Error()}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", r.cfg.MaxBody)}
		}
		return nil, &httpError{http.StatusBadRequest, "malformed", "reading body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var mt string
		if ct := req.Header.Get("Content-Type"); ct != "" {
			// A broken parameter leaves the media type readable; the
			// charset is not needed, every body must be UTF-8.
			if mt, _, err = mime.ParseMediaType(ct); err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
				return nil, &httpError{http.StatusUnsupportedMediaType, "media_type",
					fmt.Sprintf("content type %s cannot be read: %v", quoteName(ct), err)}
			}
		}
		var parsed map[string]string
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			parsed, err = ParseJSON(body)
		case mt == "application/x-www-form-urlencoded" || mt == "":
			parsed, err = ParseForm(body)
		case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
			parsed, err = ParseXML(body)
		default:
			return nil, &httpError{http.StatusUnsupportedMediaType, "media_type",
				fmt.Sprintf("content type %s not supported; use form, JSON or XML", quoteName(mt))}
		}
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "malformed", err.Error()}
		}
		for k, v := range parsed {
			if _, dup := fields[k]; dup {
				return nil, &httpError{http.StatusBadRequest, "malformed",
					fmt.Sprintf("field %s given in both the query string and the body", quoteName(k))}
			}
			fields[k] = v
		}
	}
	if len(fields) == 0 {
		return nil, &httpError{http.StatusBadRequest, "malformed", "delivery has no fields"}
	}
	return fields, nil
}

func (r *Receiver) event(fields map[string]string) (pipeline.Event, error) {
	id := strings.TrimSpace(fields[r.cfg.IDField])
	if id == "" {
		return pipeline.Event{}, &httpError{http.StatusUnprocessableEntity, "missing_id",
			fmt.Sprintf("field %s (the LeadExec lead id) is missing", r.cfg.IDField)}
	}
	if _, err := mappings.NormalizeEmail(fields["Email"]); err != nil {
		return pipeline.Event{}, &httpError{http.StatusUnprocessableEntity, "invalid_email", "field Email: " + strings.TrimPrefix(err.Error(), "invalid record: ")}
	}
	changed := r.now().UTC()
	version := ""
	if f := r.cfg.ChangedAtField; f != "" && fields[f] != "" {
		t, err := r.parseTime(fields[f])
		if err != nil {
			return pipeline.Event{}, &httpError{http.StatusUnprocessableEntity, "malformed", fmt.Sprintf("field %s: %v", f, err)}
		}
		// An event carries its change time in RFC 3339, which holds the
		// years 0000 to 9999 only: a time outside them could never be put
		// on the bus, and the delivery would be retried forever.
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return pipeline.Event{}, &httpError{http.StatusUnprocessableEntity, "malformed",
				fmt.Sprintf("field %s: %s is outside the years 0000 to 9999 in UTC", f, quoteName(fields[f]))}
		}
		changed, version = t.UTC(), t.UTC().Format(time.RFC3339Nano)
	}
	evFields := make(map[string]string, len(fields))
	for k, v := range fields {
		if k == r.cfg.IDField || k == r.cfg.ChangedAtField {
			continue
		}
		evFields[k] = v
	}
	return pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: id, Op: pipeline.OpUpsert,
		Version: version, Fields: evFields, ChangedAt: changed, Origin: pipeline.OriginLive}, nil
}

func (r *Receiver) parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "1/2/2006 3:04:05 PM", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, r.pacific); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not a known date format", quoteName(s))
}

func (r *Receiver) replyText(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, text)
}

func (r *Receiver) reply(w http.ResponseWriter, status int, body map[string]string) {
	// A rejection must never contain the success text, or LeadExec would
	// count it as delivered.
	for k, v := range body {
		body[k] = strings.ReplaceAll(v, r.cfg.SuccessText, "…")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client went away: no one to tell
}

// ParseForm parses an application/x-www-form-urlencoded body. A field given
// twice, an empty field name, a malformed escape or a name or value that is
// not UTF-8 is an error.
func ParseForm(body []byte) (map[string]string, error) {
	return parseForm("form body", string(body))
}

func parseForm(what, s string) (map[string]string, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if err := checkField(k, vs[0]); err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		if len(vs) > 1 {
			return nil, fmt.Errorf("%s: field %s given %d times", what, quoteName(k), len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// ParseJSON parses a flat JSON object of scalars. Nested values are refused:
// LeadExec renders one value per mapped field. A key given twice is refused
// too (which value would win is undefined), as is a body that is not UTF-8
// (the JSON decoder would silently replace the bad bytes).
func ParseJSON(body []byte) (map[string]string, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("JSON body: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("JSON body: expected an object")
	}
	out := map[string]string{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("JSON body: %v", err)
		}
		k, ok := kt.(string)
		if !ok {
			return nil, errors.New("JSON body: expected a field name")
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("JSON body: field %s given twice", quoteName(k))
		}
		vt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("JSON body: %v", err)
		}
		var v string
		switch t := vt.(type) {
		case string:
			v = t
		case json.Number:
			v = t.String()
		case bool:
			v = strconv.FormatBool(t)
		case nil:
			v = ""
		default:
			return nil, fmt.Errorf("JSON body: field %s is not a single value", quoteName(k))
		}
		if err := checkField(k, v); err != nil {
			return nil, fmt.Errorf("JSON body: %v", err)
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("JSON body: data after the object")
	}
	return out, nil
}

// ParseXML parses <AnyRoot><Field>value</Field>…</AnyRoot> in UTF-8. A
// field holding elements, a field given twice, text outside the fields, a
// second root and any declaration (DOCTYPE, ENTITY: the way to entity
// expansion bombs and external entities) are refused.
func ParseXML(body []byte) (map[string]string, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("XML body: not valid UTF-8")
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	out := map[string]string{}
	var (
		depth    int // 0 outside the root, 1 in the root, 2 in a field
		roots    int
		field    string
		value    strings.Builder
		hasValue bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("XML body: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errors.New("XML body: declarations (DOCTYPE, ENTITY) are not accepted")
		case xml.ProcInst:
			if depth != 0 {
				return nil, fmt.Errorf("XML body: processing instruction <?%s?> inside an element", quoteName(t.Target))
			}
		case xml.Comment:
		case xml.StartElement:
			switch depth {
			case 0:
				if roots++; roots > 1 {
					return nil, fmt.Errorf("XML body: second root element %s", quoteName(t.Name.Local))
				}
			case 1:
				field = t.Name.Local
				if _, dup := out[field]; dup {
					return nil, fmt.Errorf("XML body: element %s given twice", quoteName(field))
				}
				value.Reset()
				hasValue = true
			default:
				return nil, fmt.Errorf("XML body: element %s is not a single value", quoteName(field))
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 1 && hasValue {
				if err := checkField(field, value.String()); err != nil {
					return nil, fmt.Errorf("XML body: %v", err)
				}
				out[field] = value.String()
				hasValue = false
			}
		case xml.CharData:
			if depth == 2 {
				value.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("XML body: text outside the field elements")
			}
		}
	}
	if roots == 0 {
		return nil, errors.New("XML body: no root element")
	}
	return out, nil
}

// checkField refuses an empty field name and a name or value that is not
// valid UTF-8: every target CRM takes UTF-8, and repairing bytes would
// change the lead's data behind LeadExec's back.
func checkField(name, value string) error {
	switch {
	case name == "":
		return errors.New("a field has an empty name")
	case !utf8.ValidString(name):
		return fmt.Errorf("field name %s is not valid UTF-8", quoteName(name))
	case !utf8.ValidString(value):
		return fmt.Errorf("field %s: value is not valid UTF-8", quoteName(name))
	}
	return nil
}

// shorten cuts s to at most max bytes on a rune boundary: a rejection
// quoting a hostile value stays small.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quoteName quotes a field name for a message, shortened: a hostile body
// can carry a name of a megabyte.
func quoteName(s string) string {
	if short := shorten(s, 64); short != s {
		return strconv.Quote(short[:len(short)-len("…")]) + "…"
	}
	return strconv.Quote(s)
}
