package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// State is everything crmsync keeps between runs: the identity map, the
// write ledger, inbound delivery receipts, source cursors, route positions,
// the rate window and daily quota of each vendor account, dead letters,
// named checkpoints and backfill runs.
//
// The embedded implementation is checkpoints.Store (one SQLite file); every
// implementation must pass the conformance suite in pipeline/statetest.
// Every method is safe for concurrent use. Methods that find nothing return
// an error wrapping ErrNotFound.
//
// The parts of the pipeline take only the small interfaces below that they
// call: a poller needs Cursors, a webhook Receipts, a route RouteState.
type State interface {
	RouteState
	Cursors
	Receipts
	RateWindow
	Quota
	DeadLetters
	Checkpoints
	BackfillRuns
	// Ping reports whether the state can be reached (readiness).
	Ping(ctx context.Context) error
	// Close releases the state; no method may be called after it.
	Close() error
}

// ErrNotFound is wrapped by every State lookup that found nothing.
var ErrNotFound = errors.New("state: not found")

// ---- identity ----

// Key is one vendor's key for a record: its id, lower-cased email, E.164
// phone or the id we stored at the vendor.
type Key struct {
	Vendor string
	Entity string
	Kind   string // "id", "email", "phone", "external"
	Value  string
}

// Identity key kinds.
const (
	KindID       = "id"
	KindEmail    = "email"
	KindPhone    = "phone"
	KindExternal = "external"
)

// CanonicalID derives the canonical id a record gets when key is the first
// key seen for it. Deriving it (instead of drawing a random one) makes a
// rebuilt state agree with the old one, and two instances that resolve the
// same new record at once agree on its id.
//
// A key whose value is a decimal number (every vendor's own ids) keeps its
// order: the id is "c", 16 hex digits naming the key's vendor, entity and
// kind, and the number as 16 hex digits. The state stores its records by
// canonical id, so records that arrive in the order the vendor numbered
// them are stored side by side: a batch of new leads adds to a few pages
// of the write ledger and the identity map's index instead of one page per
// lead. Any other value (an email, a phone) gets "c" and 24 hex digits of a
// hash of the whole key. The two forms differ in length and never meet; two
// numbered keys of the same number share an id only if their vendor, entity
// and kind hash alike in 64 bits. Ids already stored keep their form: a
// record is found by its links before an id is derived.
func CanonicalID(k Key) string {
	if n, ok := decimalID(k.Value); ok {
		var b [16]byte
		space := sha256.Sum256([]byte(k.Vendor + "\x00" + k.Entity + "\x00" + k.Kind))
		copy(b[:8], space[:8])
		binary.BigEndian.PutUint64(b[8:], n)
		return "c" + hex.EncodeToString(b[:])
	}
	h := sha256.Sum256([]byte(k.Vendor + "\x00" + k.Entity + "\x00" + k.Kind + "\x00" + k.Value))
	return "c" + hex.EncodeToString(h[:12])
}

// decimalID reads s as a number written in decimal with no sign and no
// leading zero ("0" itself is one), so that one number has one spelling.
func decimalID(s string) (uint64, bool) {
	if len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	// Base 10 takes digits only: no sign, space or underscore.
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// Link points one key at a canonical id.
type Link struct {
	CanonicalID string
	Key         Key
}

// Identity is the identity map: which canonical record each vendor key
// belongs to.
type Identity interface {
	// ResolveAll returns, for each key list, the canonical id that its first
	// already-linked key points at, or a new one derived from its first
	// non-empty key (CanonicalID), and links every key of the list that has
	// no owner yet to it. Lists are resolved in order: a key linked by an
	// earlier list counts as linked for the later ones. Keys with empty
	// values are skipped; a list with no usable key is an error. A key that
	// already has an owner is never moved by ResolveAll (only Settle's links
	// move keys).
	ResolveAll(ctx context.Context, keys [][]Key) (ids []string, err error)
	// Lookup returns the canonical id a key points at, or ErrNotFound.
	Lookup(ctx context.Context, k Key) (string, error)
	// VendorKeys returns, for each canonical id, the most recently linked
	// value of the given vendor key kind; ids without one are absent.
	VendorKeys(ctx context.Context, vendor, entity, kind string, canonicalIDs []string) (map[string]string, error)
}

// ---- write ledger ----

// FieldStamp is what the ledger keeps of one written field: the source change
// time of the value and a hash of it.
type FieldStamp struct {
	// At is when the change that produced the value was made (on the
	// clock of the vendor where it was made).
	At   time.Time `json:"at"`
	Hash string    `json:"h"`
	// Seen is the latest time, on this vendor's own clock, at which its
	// poller reported the value when the value itself was older (crmsync's
	// own write echoing back, also before the write settled). Zero when the
	// report was the change itself.
	Seen time.Time `json:"s,omitzero"`
	// Wrote lists the values crmsync wrote into this field, as
	// "<vendor the value came from>:<hash>", oldest first (a few at most):
	// when the vendor later reports one of them, that is crmsync's own
	// write echoing back, however late the report.
	Wrote []string `json:"w,omitempty"`
	// Pending, when later than now, is until when a write of this field
	// whose answer was lost (InDoubtError) may still land at the vendor:
	// no newer value is sent before then.
	Pending time.Time `json:"p,omitzero"`
	// Sent is when crmsync last sent a write of this field, moved to when
	// the write was known to have landed once it settled (on crmsync's
	// clock), and Prev the hash of the value the field was known to hold
	// before that write ("" when none was known). A report by this vendor
	// stamped no later than Sent (to the second) that shows Prev (or, for
	// "", an empty value) was read before the write landed: it is no change
	// made here, and the write replaces it. One that shows a value crmsync
	// wrote before its latest write is that earlier write coming back; shown
	// by a report stamped after Sent, it is a user setting the field back.
	Sent time.Time `json:"t,omitzero"`
	Prev string    `json:"b,omitempty"`
	// WroteAt is the change time of the value crmsync's latest write of
	// this field carries (the last of Wrote), from when the write is sent
	// until it settles (At holds it then; zero after). This vendor's
	// poller may report the value before the write settled, stamped with
	// the vendor's own later clock: the value still dates from WroteAt,
	// and a change made elsewhere after WroteAt must still win over it.
	WroteAt time.Time `json:"wa,omitzero"`
}

// MaxWrote is how many written values a FieldStamp remembers.
const MaxWrote = 8

// LedgerEntry is what crmsync last wrote to (or read from) one record.
type LedgerEntry struct {
	Fields      map[string]FieldStamp
	ContentHash string
	UpdatedAt   time.Time // set by the state when the entry is stored
}

// LedgerPut is one entry for PutLedgers.
type LedgerPut struct {
	Vendor, Entity, Key string
	Entry               LedgerEntry
	// Update, if set, replaces Entry: the state calls it with the entry
	// stored at that moment (the zero entry when there is none) and stores
	// what it returns, unless it returns false. Nothing else changes the
	// entry between the read and the write, in this process or another:
	// every route of a source shares that source's entries, and a route
	// settling a batch must not undo what another settled meanwhile. It
	// may be called more than once and must not have other effects.
	Update func(stored LedgerEntry) (LedgerEntry, bool)
}

// Ledger is the write ledger, keyed by vendor, entity and canonical id.
type Ledger interface {
	// Ledger returns the entries of the given record keys; keys without an
	// entry are absent from the map.
	Ledger(ctx context.Context, vendor, entity string, keys []string) (map[string]LedgerEntry, error)
	// PutLedgers stores each entry in order, replacing the record's entry
	// (or updating it, see LedgerPut.Update): a record listed twice keeps
	// its last entry, or has both updates applied in order. An
	// implementation with transactions stores the entries together or not
	// at all; one without stores them one by one, in order.
	PutLedgers(ctx context.Context, puts []LedgerPut) error
}

// ---- settling a batch ----

// Settlement is what one route batch leaves in the state once its writes
// are answered.
type Settlement struct {
	// Links point keys at canonical ids, replacing older links of the same
	// key; a key listed twice ends up pointing at its last entry's id.
	Links []Link
	// Ledger entries, as for PutLedgers.
	Ledger []LedgerPut
	// DeadLetters to add (their ID, Status and times are set by the state).
	DeadLetters []DeadLetter
	// Route and Seq move the route's stream position when Seq > 0.
	Route string
	Seq   uint64
}

// RouteState is what a route needs from the state.
type RouteState interface {
	Identity
	Ledger
	// Settle stores a batch's outcome and returns the ids of the dead
	// letters it added, in order. An implementation with transactions
	// stores it all or nothing; one without must apply it in field order
	// (links, ledger, dead letters, position), so that a crash part-way
	// leaves only what the redelivered batch repeats harmlessly.
	Settle(ctx context.Context, s Settlement) (deadLetterIDs []int64, err error)
	// RoutePosition returns the last settled stream sequence of a route,
	// or 0 when it has none.
	RoutePosition(ctx context.Context, route string) (uint64, error)
}

// ---- source cursors ----

// Cursor is a stored source position.
type Cursor struct {
	Source    string
	Cursor    string
	UpdatedAt time.Time
}

// Cursors keeps each source's resume position. A cursor is opaque to the
// state: only its source reads it.
type Cursors interface {
	// Cursor returns a source's position and when it was stored, or
	// ErrNotFound.
	Cursor(ctx context.Context, source string) (cursor string, updated time.Time, err error)
	// SetCursor stores a source's position.
	SetCursor(ctx context.Context, source, cursor string) error
	// Cursors lists every stored position, ordered by source.
	Cursors(ctx context.Context) ([]Cursor, error)
}

// ---- inbound delivery receipts ----

// Receipts remember the content last accepted for each pushed or polled
// record, so that a redelivery of the same content publishes nothing.
type Receipts interface {
	// Delivery returns the content hash last recorded for a record, or
	// ErrNotFound.
	Delivery(ctx context.Context, vendor, entity, externalID string) (contentHash string, err error)
	// RecordDelivery stores a record's content hash and the id of the event
	// published for it. It returns only once the receipt is durable.
	RecordDelivery(ctx context.Context, vendor, entity, externalID, contentHash, eventID string) error
}

// QueuedReceipts is Receipts that can also take a receipt without waiting
// for it to be durable. A receipt only spares a later copy of the same
// content a publish: one lost with the process is a copy published again,
// which the route finds already written. Delivery finds a queued receipt
// at once, and closing the state writes what is queued.
type QueuedReceipts interface {
	Receipts
	// QueueDelivery is RecordDelivery without the wait. It returns the error
	// of an earlier queued receipt that could not be stored, if any.
	QueueDelivery(ctx context.Context, vendor, entity, externalID, contentHash, eventID string) error
}

// ---- vendor request budgets ----

// RateWindow is the sliding request window of each vendor account, shared
// by every process that uses the same state.
type RateWindow interface {
	// TakeSlot admits one request of account if fewer than limit requests
	// were admitted in the span before now. Otherwise it admits nothing and
	// returns how long to wait before asking again.
	TakeSlot(ctx context.Context, account string, now time.Time, limit int, span time.Duration) (ok bool, wait time.Duration, err error)
	// AnswerSlot moves a request of account admitted at sent to answered,
	// when its answer came: the vendor counted it on arrival, no later
	// than that. It moves the earliest slot at or after sent and not after
	// answered (sent is when the caller asked; a slot taken after a retry
	// stands a little later); when there is none (the slot left the
	// window while the request was on its way), it adds one at answered.
	// A slot only ever moves later, so the window never holds less than
	// the vendor counts.
	AnswerSlot(ctx context.Context, account string, sent, answered time.Time) error
}

// Quota counts each vendor account's requests per UTC day.
type Quota interface {
	// AddQuota adds n requests to the count of the UTC day of at and
	// returns the new total.
	AddQuota(ctx context.Context, account string, at time.Time, n int) (int, error)
	// QuotaUsed returns the count of the UTC day of at (0 when none).
	QuotaUsed(ctx context.Context, account string, at time.Time) (int, error)
	// TakeQuota counts one request if the day's count is below limit and
	// returns the count; at the limit it counts nothing and returns false.
	TakeQuota(ctx context.Context, account string, at time.Time, limit int) (ok bool, used int, err error)
}

// ---- dead letters ----

// DeadLetter is one object a target refused for good, with the vendor's code
// and message.
type DeadLetter struct {
	ID        int64
	Route     string
	Vendor    string
	Entity    string
	RecordKey string
	EventIDs  []string
	Payload   []byte
	Code      string
	Message   string
	Attempts  int
	Status    string // "open", "retried", "resolved"
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Dead letter statuses.
const (
	DeadLetterOpen     = "open"
	DeadLetterRetried  = "retried"  // sent again and failed again: a newer entry holds the new failure
	DeadLetterResolved = "resolved" // sent again and written
)

// DeadLetterFilter selects dead letters; empty fields match everything.
type DeadLetterFilter struct {
	ID     int64
	Route  string
	Code   string
	Status string
}

// DeadLetters is the dead-letter queue. Entries are never deleted, so the
// queue is also the history. Settle adds them.
type DeadLetters interface {
	// DeadLetters lists the matching entries, oldest first.
	DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error)
	// DeadLetter returns one entry, or ErrNotFound.
	DeadLetter(ctx context.Context, id int64) (DeadLetter, error)
	// CountDeadLetters counts a route's open entries ("" for every route).
	CountDeadLetters(ctx context.Context, route string) (int, error)
	// SetDeadLetterStatus records what became of an entry, or returns
	// ErrNotFound.
	SetDeadLetterStatus(ctx context.Context, id int64, status string) error
}

// ---- named checkpoints ----

// Position is a point in the bus's streams: what was published before it,
// and what after.
type Position struct {
	// Seq is the last stream sequence before the point (NATS: one stream
	// holds every subject).
	Seq uint64 `json:"seq,omitempty"`
	// Offsets are, per Kafka topic and partition, the offset the next
	// message published after the point gets (the high watermark). A topic
	// or partition missing here was created after the point.
	Offsets map[string]map[int]int64 `json:"offsets,omitempty"`
}

// String says where the position is, for people.
func (p Position) String() string {
	if len(p.Offsets) == 0 {
		return fmt.Sprintf("stream sequence %d", p.Seq)
	}
	topics := make([]string, 0, len(p.Offsets))
	for t := range p.Offsets {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	b.WriteString("offsets")
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(',')
		}
		parts := make([]int, 0, len(p.Offsets[t]))
		for pt := range p.Offsets[t] {
			parts = append(parts, pt)
		}
		sort.Ints(parts)
		fmt.Fprintf(&b, " %s", t)
		for _, pt := range parts {
			fmt.Fprintf(&b, " %d:%d", pt, p.Offsets[t][pt])
		}
	}
	return b.String()
}

// Checkpoints are named stream positions that replay can start from.
type Checkpoints interface {
	// SaveCheckpoint stores (or moves) a named stream position.
	SaveCheckpoint(ctx context.Context, name string, pos Position) error
	// Checkpoint returns a named position and when it was saved, or
	// ErrNotFound.
	Checkpoint(ctx context.Context, name string) (pos Position, savedAt time.Time, err error)
}

// ---- backfill runs ----

// BackfillRun is the progress of one backfill of a source over a range.
type BackfillRun struct {
	Source       string
	Since, Until string // as given, "" for open ends
	Cursor       string // next page; "" before the first
	Published    int64
	Pages        int64
	Done         bool
	StartedAt    time.Time
	UpdatedAt    time.Time // set by the state when the run is stored
}

// BackfillRuns keep each backfill's place, keyed by source and range.
type BackfillRuns interface {
	// BackfillRun returns the stored run, or ErrNotFound.
	BackfillRun(ctx context.Context, source, since, until string) (BackfillRun, error)
	// SaveBackfillRun stores a run's progress.
	SaveBackfillRun(ctx context.Context, r BackfillRun) error
}
