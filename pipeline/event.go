// Package pipeline holds what every part of crmsync shares: the change event
// envelope that travels on the bus, the bus contract, routes, batching and
// coalescing, retry and error classes, and the per-vendor rate and quota
// budget.
package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Origin says how an event entered the stream.
type Origin string

// Origins of change events.
const (
	OriginLive     Origin = "live"
	OriginBackfill Origin = "backfill"
	OriginReplay   Origin = "replay"
)

// Op is what happened to the record.
type Op string

// Operations carried by change events.
const (
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
)

// Event is one change of one vendor record. Fields holds the vendor's own
// field names and values: a key that is absent means "unchanged", a key with
// an empty value means "cleared".
type Event struct {
	ID         string            `json:"id"`
	Vendor     string            `json:"vendor"`
	Entity     string            `json:"entity"`
	ExternalID string            `json:"external_id"`
	Op         Op                `json:"op"`
	Version    string            `json:"version,omitempty"`
	Fields     map[string]string `json:"fields"`
	ChangedAt  time.Time         `json:"changed_at"`
	Origin     Origin            `json:"origin"`
}

// Subject is the bus subject of the event: crm.<entity>.<vendor>, or
// crm.backfill.<entity>.<vendor> for backfill events, which routes read
// only when live events leave room.
func (e *Event) Subject() string {
	if e.Origin == OriginBackfill {
		return BackfillSubject(e.Entity, e.Vendor)
	}
	return Subject(e.Entity, e.Vendor)
}

// BackfillSubject names the subject of one vendor's entity's backfill
// events.
func BackfillSubject(entity, vendor string) string { return "crm.backfill." + entity + "." + vendor }

// Subject names the stream subject for one vendor's entity.
func Subject(entity, vendor string) string { return "crm." + entity + "." + vendor }

// Source names the vendor.entity pair an event came from, as used in route
// definitions ("leadexec.lead").
func (e *Event) Source() string { return e.Vendor + "." + e.Entity }

// Seal validates the event and fills ID with its deterministic identifier.
// The id depends on the vendor, entity, external id, operation, source version
// and the field contents, never on when or how often the event was produced,
// so a redelivered webhook or a repeated poll yields the same id and the bus
// drops the copy.
func (e *Event) Seal() error {
	switch {
	case e.Vendor == "":
		return fmt.Errorf("event: vendor is empty")
	case e.Entity == "":
		return fmt.Errorf("event: entity is empty")
	case e.ExternalID == "":
		return fmt.Errorf("event: external id is empty")
	}
	if e.Op == "" {
		e.Op = OpUpsert
	}
	if e.Origin == "" {
		e.Origin = OriginLive
	}
	h := sha256.New()
	for _, s := range []string{e.Vendor, e.Entity, e.ExternalID, string(e.Op), e.Version, FieldsHash(e.Fields)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	e.ID = e.Vendor + "-" + e.Entity + "-" + hex.EncodeToString(h.Sum(nil)[:16])
	return nil
}

// FieldsHash is a stable hash of a field set: the same names and values give
// the same hash whatever the map order.
func FieldsHash(fields map[string]string) string {
	return sortedHash(fields, func(v string) string { return v })
}

// sortedHash hashes each name of m and val of its value, in name order.
func sortedHash[V any](m map[string]V, val func(V) string) string {
	keys := make([]string, 0, len(m))
	n := 0
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(val(v)) + 2
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, 0)
		b = append(b, val(m[k])...)
		b = append(b, 0)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}

// ValueHash is the hash of a single field value, kept in the write ledger.
func ValueHash(v string) string {
	return string(appendValueHash(make([]byte, 0, 16), v))
}

// appendValueHash appends ValueHash(v) to b.
func appendValueHash(b []byte, v string) []byte {
	s := sha256.Sum256([]byte(v))
	return hex.AppendEncode(b, s[:8])
}

// SizeBound is a bound on len(Marshal()) that costs no encoding: JSON
// writes no byte of a string as more than six (\u0001 for a control
// character, \u003c for <, \ufffd for a byte that is not UTF-8), and
// adds quotes, a colon and a comma around each name and value. A receiver
// checks an event against the bus's limit with it, and encodes only an
// event that may be over it.
func (e *Event) SizeBound() int {
	const envelope = 256 // names of the envelope's fields, punctuation, changed_at
	n := envelope
	for _, s := range [...]string{e.ID, e.Vendor, e.Entity, e.ExternalID, string(e.Op), e.Version, string(e.Origin)} {
		n += 6*len(s) + 2
	}
	for k, v := range e.Fields {
		n += 6*(len(k)+len(v)) + 6
	}
	return n
}

// Marshal encodes the event for the bus.
func (e *Event) Marshal() ([]byte, error) { return json.Marshal(e) }

// Encode is Marshal for a bus's publish: it refuses an event that was
// never sealed, since a bus tells a repeated publish by the event id.
func (e *Event) Encode() ([]byte, error) {
	if e.ID == "" {
		return nil, errors.New("event has no id (call Seal)")
	}
	return e.Marshal()
}

// UnmarshalEvent decodes an event read from the bus: one JSON object and
// nothing after it.
func UnmarshalEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == "" || e.Vendor == "" || e.Entity == "" || e.ExternalID == "" {
		return Event{}, fmt.Errorf("decode event: incomplete envelope")
	}
	return e, nil
}
