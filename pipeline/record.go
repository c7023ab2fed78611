package pipeline

import (
	"context"
	"time"
)

// Mapped is an event translated for a route's target.
type Mapped struct {
	// Keys identify the record for the identity map, most specific first
	// (the source's own id, then shared natural keys such as the email).
	Keys []Key
	// Fields are the target's field names and values carried by the event.
	Fields map[string]string
	// NaturalKeys are target fields that address the record when its target
	// id is unknown (SharpSpring: emailAddress). They are sent with every
	// write that has no id.
	NaturalKeys map[string]string
	// SourceFields, if set, are the values the source record holds now,
	// in the source's field names. The route records them in the write
	// ledger as the source's known state, so that the reverse route drops
	// them as an echo instead of writing them back.
	SourceFields map[string]string
	// CreateOnly are target fields the route may write only when it
	// creates the record (its target id is unknown): fields owned by
	// another vendor, which this source must not overwrite.
	CreateOnly []string `json:",omitempty"`
}

// Mapper translates events of a route's source into the target's fields. It
// must be pure. An error wrapping ErrPermanent dead-letters the event.
type Mapper interface {
	Map(ev Event) (Mapped, error)
}

// Record is one target record to write: the coalesced, newest value of every
// field that changed.
type Record struct {
	Key         string               // canonical id
	TargetID    string               // the target's id of the record, "" if unknown
	Fields      map[string]string    // target fields to write
	Stamps      map[string]time.Time // source change time per field
	NaturalKeys map[string]string
	EventIDs    []string

	ledger LedgerEntry // what was last written, if anything

	// The source record's current values (Mapped.SourceFields), newest per
	// field, and what the ledger knew of the source record before.
	source       map[string]string
	sourceStamps map[string]time.Time
	// sourceHeld lists the source fields that held a value in some event
	// of the batch: an empty value after one is a clear, even when the
	// ledger had not seen the value yet.
	sourceHeld map[string]bool
	// reports are the batch's events of the record as source reports,
	// oldest first: settled one after the other (settleSource).
	reports []sourceReport

	// Target fields written only when the record is created (Mapped.CreateOnly).
	createOnly map[string]bool

	// withheld are non-empty target values the echo rules left out (with
	// their event's change time): put back when the target has no record
	// yet, so that a record is never created without them.
	withheld   map[string]string
	withheldAt map[string]time.Time

	// overtaken lists the fields left out because the target holds a
	// newer change, whose ledger still marks an earlier write of the value
	// as on its way ("<vendor>:<hash>", as in FieldStamp.Wrote): a batch
	// handled again after its write landed unsettled. The write is over;
	// settling the batch ends the marks (endMarks).
	overtaken map[string]string
}

// Outcome is the sink's answer for one record.
type Outcome struct {
	// Err is nil when the record was written. Otherwise it is permanent
	// (ErrPermanent: dead-letter), a *QuotaError, a *RetryAfterError, or
	// transient.
	Err error
	// TargetID is the id the target has for the record, when known.
	TargetID string
	// Links are further target keys learned (e.g. the email written).
	Links []Key
	// Skip, when set (and Err is nil), says the sink wrote nothing on
	// purpose and why (e.g. the target cannot update a record it already
	// holds). The record is settled as skipped: counted with the skipped
	// ones, and the write ledger is not told the values were written.
	Skip string

	// answered is when the route had this outcome from the sink (set by
	// the route, not the sink): a written record had landed by then.
	answered time.Time
	// settled: the route stored the write in the ledger already, while
	// other records of the batch were retried (see settleEarly).
	settled bool
}

// Sink writes batches of records to one target. Write returns exactly one
// outcome per record, in order; one record's failure never fails the others.
// Write must be safe to repeat: a record may be written again after a crash.
type Sink interface {
	Write(ctx context.Context, recs []*Record) []Outcome
}
