// Package natskv keeps crmsync's state (pipeline.State) in a NATS JetStream
// key-value bucket, so that several instances on one NATS cluster share one
// identity map, write ledger, set of receipts and cursors, one rate window
// and daily count per vendor account, and one dead-letter queue. The bucket
// is replicated like any stream: nothing new to operate beside the cluster
// crmsync already uses as its bus.
//
// Every write that two instances could race on is a compare-and-set on the
// key's revision (identity links are created only when absent; the rate
// window, daily counts and dead-letter ids are read-modify-write loops
// retried on a revision conflict), so no sliding second ever admits more
// than the limit across instances. A key-value bucket has no transaction
// across keys: Settle applies a batch's links, ledger entries, dead letters
// and position in that order, so a crash part-way leaves only what the
// redelivered batch repeats.
//
// Keys are "<part>.<token>…", each token the base64url of a value (so any
// email, phone or id is a valid key).
package natskv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmsync/crmsync/pipeline"
)

// Config configures the store. The zero value of each field is its default.
type Config struct {
	// Bucket is the key-value bucket's name; default "crmsync_state".
	Bucket string
	// Replicas of the bucket on a cluster; default 1 (use 3 in production,
	// like the event stream).
	Replicas int
	// Now is the clock of stored times; default time.Now.
	Now func() time.Time
}

// Store is pipeline.State on a JetStream key-value bucket. It is safe for
// concurrent use, also by several processes on one bucket.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
	// One process's writers of one CAS key take turns (keys are spread
	// over a few locks), so that they do not spend round trips beating
	// each other; other processes still race through the revision check.
	casMu [32]sync.Mutex
	// receipts are the delivery receipts queued and not yet put.
	receipts receiptQueue
}

var (
	_ pipeline.State          = (*Store)(nil)
	_ pipeline.QueuedReceipts = (*Store)(nil)
)

// Open creates the bucket if it does not exist and returns the store.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "crmsync_state"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "crmsync state: identity map, write ledger, receipts, cursors, rate windows, quota, dead letters",
		History:     1,
		Replicas:    cfg.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("state: bucket %s: %w", cfg.Bucket, err)
	}
	return &Store{kv: kv, now: cfg.Now}, nil
}

// Close puts the delivery receipts still queued; the connection belongs to
// the caller.
func (s *Store) Close() error {
	s.receipts.drain()
	return nil
}

// Ping reports whether the bucket can be reached.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.kv.Status(ctx)
	return wrap("ping", err)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	// A connection this process closed does not come back; any other
	// failure (a lost server, a leader election) may pass.
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConnectionClosed) {
		return fmt.Errorf("state: %s: %w: %w", op, pipeline.ErrStateUnusable, err)
	}
	return fmt.Errorf("state: %s: %w", op, err)
}

func tok(s string) string {
	if s == "" {
		return "_"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func untok(t string) string {
	if t == "_" {
		return ""
	}
	b, _ := base64.RawURLEncoding.DecodeString(t)
	return string(b)
}

func key(part string, values ...string) string {
	var b strings.Builder
	b.WriteString(part)
	for _, v := range values {
		b.WriteByte('.')
		b.WriteString(tok(v))
	}
	return b.String()
}

func (s *Store) stamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

// get reads a JSON value; found is false when the key does not exist.
func (s *Store) get(ctx context.Context, k string, v any) (rev uint64, found bool, err error) {
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, false, fmt.Errorf("key %s is corrupt: %w", k, err)
	}
	return e.Revision(), true, nil
}

func (s *Store) put(ctx context.Context, k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.kv.Put(ctx, k, b)
	return err
}

// update runs a read-modify-write of one JSON key until no other writer
// changed it in between. fn gets the current value (zero when absent) and
// returns whether to write it.
func update[T any](ctx context.Context, s *Store, k string, fn func(v *T, found bool) (write bool, err error)) error {
	h := fnv.New32a()
	h.Write([]byte(k))
	mu := &s.casMu[h.Sum32()%uint32(len(s.casMu))]
	mu.Lock()
	defer mu.Unlock()
	for {
		var v T
		rev, found, err := s.get(ctx, k, &v)
		if err != nil {
			return err
		}
		write, err := fn(&v, found)
		if err != nil || !write {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if found {
			_, err = s.kv.Update(ctx, k, b, rev)
		} else {
			_, err = s.kv.Create(ctx, k, b)
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // another instance wrote first: read again
		}
		return err
	}
}

// ---- identity ----

type link struct {
	ID string `json:"id"`
	At string `json:"at"`
}

// reverse lists the values of one vendor key kind linked to a canonical
// id, newest last, so VendorKeys need not scan the map.
type reverse struct {
	Values []string `json:"v"`
}

const maxReverse = 8

func identityKey(k pipeline.Key) string {
	return key("id", k.Vendor, k.Entity, k.Kind, k.Value)
}

func reverseKey(canonicalID, vendor, entity, kind string) string {
	return key("rev", canonicalID, vendor, entity, kind)
}

// Lookup implements pipeline.Identity.
func (s *Store) Lookup(ctx context.Context, k pipeline.Key) (string, error) {
	var l link
	_, found, err := s.get(ctx, identityKey(k), &l)
	if err != nil {
		return "", wrap("lookup", err)
	}
	if !found {
		return "", pipeline.ErrNotFound
	}
	return l.ID, nil
}

// ResolveAll implements pipeline.Identity. A new key is linked only if it
// is still unlinked (create-only). When another instance linked one of a
// list's keys first, the links this call made for that list are taken back
// (each only if still at the revision written) and the list is resolved
// again with that owner, so two instances resolving the same record at once
// agree on its id.
func (s *Store) ResolveAll(ctx context.Context, keys [][]pipeline.Key) ([]string, error) {
	owner := map[pipeline.Key]string{}
	ids := make([]string, len(keys))
	for i, ks := range keys {
		for attempt := 0; ; attempt++ {
			if attempt > 100 {
				return nil, wrap("resolve", errors.New("identity links keep changing under this resolve"))
			}
			id, fresh, err := s.resolveOne(ctx, ks, owner)
			if err != nil {
				return nil, wrap("resolve", err)
			}
			made, conflict, err := s.createLinks(ctx, id, fresh)
			if err != nil {
				return nil, wrap("resolve", err)
			}
			if conflict != nil {
				for k, rev := range made {
					err := s.kv.Delete(ctx, identityKey(k), jetstream.LastRevision(rev))
					if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
						return nil, wrap("resolve", err)
					}
					delete(owner, k)
				}
				delete(owner, *conflict) // read its owner again
				continue
			}
			for k := range made {
				owner[k] = id
				if err := s.addReverse(ctx, id, k); err != nil {
					return nil, wrap("resolve", err)
				}
			}
			ids[i] = id
			break
		}
	}
	return ids, nil
}

// createLinks links each key to id if it is unlinked, stopping at the
// first key another writer linked first.
func (s *Store) createLinks(ctx context.Context, id string, keys []pipeline.Key) (made map[pipeline.Key]uint64, conflict *pipeline.Key, err error) {
	made = map[pipeline.Key]uint64{}
	for _, k := range keys {
		b, _ := json.Marshal(link{ID: id, At: s.stamp()})
		rev, err := s.kv.Create(ctx, identityKey(k), b)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return made, &k, nil
		}
		if err != nil {
			return made, nil, err
		}
		made[k] = rev
	}
	return made, nil, nil
}

// resolveOne picks a list's canonical id and the keys it must link.
func (s *Store) resolveOne(ctx context.Context, ks []pipeline.Key, owner map[pipeline.Key]string) (string, []pipeline.Key, error) {
	var id string
	var unowned []pipeline.Key
	for _, k := range ks {
		if k.Value == "" {
			continue
		}
		got, ok := owner[k]
		if !ok {
			var l link
			_, found, err := s.get(ctx, identityKey(k), &l)
			if err != nil {
				return "", nil, err
			}
			if found {
				got, ok = l.ID, true
				owner[k] = got
			}
		}
		if ok {
			if id == "" {
				id = got
			}
			continue
		}
		if !slices.Contains(unowned, k) {
			unowned = append(unowned, k)
		}
	}
	if id == "" {
		for _, k := range ks {
			if k.Value != "" {
				id = pipeline.CanonicalID(k)
				break
			}
		}
	}
	if id == "" {
		return "", nil, errors.New("no usable key")
	}
	return id, unowned, nil
}

func (s *Store) addReverse(ctx context.Context, id string, k pipeline.Key) error {
	return update(ctx, s, reverseKey(id, k.Vendor, k.Entity, k.Kind), func(r *reverse, _ bool) (bool, error) {
		r.Values = append(slices.DeleteFunc(r.Values, func(v string) bool { return v == k.Value }), k.Value)
		if len(r.Values) > maxReverse {
			r.Values = r.Values[len(r.Values)-maxReverse:]
		}
		return true, nil
	})
}

// link points a key at a canonical id, replacing an older link.
func (s *Store) link(ctx context.Context, l pipeline.Link) error {
	b, _ := json.Marshal(link{ID: l.CanonicalID, At: s.stamp()})
	if _, err := s.kv.Put(ctx, identityKey(l.Key), b); err != nil {
		return err
	}
	return s.addReverse(ctx, l.CanonicalID, l.Key)
}

// VendorKeys implements pipeline.Identity: the newest value whose link still
// points at the canonical id.
func (s *Store) VendorKeys(ctx context.Context, vendor, entity, kind string, canonicalIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(canonicalIDs))
	for _, id := range canonicalIDs {
		var r reverse
		_, found, err := s.get(ctx, reverseKey(id, vendor, entity, kind), &r)
		if err != nil {
			return nil, wrap("vendor keys", err)
		}
		if !found {
			continue
		}
		for i := len(r.Values) - 1; i >= 0; i-- {
			owner, err := s.Lookup(ctx, pipeline.Key{Vendor: vendor, Entity: entity, Kind: kind, Value: r.Values[i]})
			if errors.Is(err, pipeline.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if owner == id {
				out[id] = r.Values[i]
				break
			}
		}
	}
	return out, nil
}

// ---- ledger ----

func ledgerKey(vendor, entity, k string) string { return key("ledger", vendor, entity, k) }

// Ledger implements pipeline.Ledger.
func (s *Store) Ledger(ctx context.Context, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	out := make(map[string]pipeline.LedgerEntry, len(keys))
	for _, k := range keys {
		var e pipeline.LedgerEntry
		_, found, err := s.get(ctx, ledgerKey(vendor, entity, k), &e)
		if err != nil {
			return nil, wrap("ledger", err)
		}
		if found {
			out[k] = e
		}
	}
	return out, nil
}

// PutLedgers implements pipeline.Ledger. Entries are stored one by one, in
// order; a record listed twice keeps its last entry, and an update is a
// read-modify-write that starts over when another writer (a route of this
// process or another instance) stored the entry in between.
func (s *Store) PutLedgers(ctx context.Context, puts []pipeline.LedgerPut) error {
	for _, p := range puts {
		k := ledgerKey(p.Vendor, p.Entity, p.Key)
		if p.Update != nil {
			err := update(ctx, s, k, func(e *pipeline.LedgerEntry, _ bool) (bool, error) {
				next, ok := p.Update(*e)
				if ok {
					next.UpdatedAt = s.now().UTC()
					*e = next
				}
				return ok, nil
			})
			if err != nil {
				return wrap("put ledger", err)
			}
			continue
		}
		e := p.Entry
		e.UpdatedAt = s.now().UTC()
		if err := s.put(ctx, k, e); err != nil {
			return wrap("put ledger", err)
		}
	}
	return nil
}

// ---- settle and route positions ----

type position struct {
	Seq uint64 `json:"seq"`
	At  string `json:"at"`
}

// Settle implements pipeline.RouteState, in the order its contract names.
func (s *Store) Settle(ctx context.Context, st pipeline.Settlement) ([]int64, error) {
	for _, l := range st.Links {
		if err := s.link(ctx, l); err != nil {
			return nil, wrap("link", err)
		}
	}
	if err := s.PutLedgers(ctx, st.Ledger); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(st.DeadLetters))
	for _, d := range st.DeadLetters {
		id, err := s.addDeadLetter(ctx, d)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if st.Seq > 0 {
		if err := s.put(ctx, key("pos", st.Route), position{Seq: st.Seq, At: s.stamp()}); err != nil {
			return nil, wrap("route position", err)
		}
	}
	return ids, nil
}

// RoutePosition implements pipeline.RouteState.
func (s *Store) RoutePosition(ctx context.Context, route string) (uint64, error) {
	var p position
	_, _, err := s.get(ctx, key("pos", route), &p)
	return p.Seq, wrap("route position", err)
}

// ---- cursors ----

type cursor struct {
	Cursor string    `json:"c"`
	At     time.Time `json:"at"`
}

// Cursor implements pipeline.Cursors.
func (s *Store) Cursor(ctx context.Context, source string) (string, time.Time, error) {
	var c cursor
	_, found, err := s.get(ctx, key("cursor", source), &c)
	if err != nil {
		return "", time.Time{}, wrap("cursor", err)
	}
	if !found {
		return "", time.Time{}, pipeline.ErrNotFound
	}
	return c.Cursor, c.At, nil
}

// SetCursor implements pipeline.Cursors.
func (s *Store) SetCursor(ctx context.Context, source, c string) error {
	return wrap("set cursor", s.put(ctx, key("cursor", source), cursor{Cursor: c, At: s.now().UTC()}))
}

// keys lists the keys under a part, or none.
func (s *Store) keys(ctx context.Context, part string) ([]string, error) {
	l, err := s.kv.ListKeysFiltered(ctx, part+".>")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	return out, nil
}

// Cursors implements pipeline.Cursors.
func (s *Store) Cursors(ctx context.Context) ([]pipeline.Cursor, error) {
	ks, err := s.keys(ctx, "cursor")
	if err != nil {
		return nil, wrap("cursors", err)
	}
	var out []pipeline.Cursor
	for _, k := range ks {
		source := untok(strings.TrimPrefix(k, "cursor."))
		c, at, err := s.Cursor(ctx, source)
		if errors.Is(err, pipeline.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pipeline.Cursor{Source: source, Cursor: c, UpdatedAt: at})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out, nil
}

// ---- receipts ----

type receipt struct {
	Hash  string `json:"h"`
	Event string `json:"e"`
	At    string `json:"at"`
}

// Delivery implements pipeline.Receipts.
func (s *Store) Delivery(ctx context.Context, vendor, entity, externalID string) (string, error) {
	k := key("receipt", vendor, entity, externalID)
	if h, ok := s.receipts.queued(k); ok {
		return h, nil
	}
	var r receipt
	_, found, err := s.get(ctx, k, &r)
	if err != nil {
		return "", wrap("delivery", err)
	}
	if !found {
		return "", pipeline.ErrNotFound
	}
	return r.Hash, nil
}

// RecordDelivery implements pipeline.Receipts: the put is acknowledged by
// the bucket's replicas before it returns.
func (s *Store) RecordDelivery(ctx context.Context, vendor, entity, externalID, contentHash, eventID string) error {
	return wrap("record delivery", s.put(ctx, key("receipt", vendor, entity, externalID),
		receipt{Hash: contentHash, Event: eventID, At: s.stamp()}))
}

// ---- rate window and quota ----

type window struct {
	At []int64 `json:"at"` // admitted requests, unix nanoseconds, oldest first
}

// TakeSlot implements pipeline.RateWindow with one compare-and-set per
// admitted request: every instance on the bucket shares the window.
func (s *Store) TakeSlot(ctx context.Context, account string, now time.Time, limit int, span time.Duration) (bool, time.Duration, error) {
	var ok bool
	var wait time.Duration
	start, attempt := time.Now(), 0
	err := update(ctx, s, key("rate", account), func(w *window, _ bool) (bool, error) {
		ok, wait = false, 0
		if attempt++; attempt > 1 {
			// Another writer won the last round: the slot is taken now,
			// not when the caller asked.
			now = now.Add(time.Since(start))
		}
		from := now.Add(-span).UnixNano()
		w.At = slices.DeleteFunc(w.At, func(t int64) bool { return t <= from })
		if len(w.At) >= limit {
			wait = time.Duration(w.At[0] - from)
			if wait <= 0 {
				wait = time.Millisecond
			}
			return false, nil
		}
		w.At = append(w.At, now.UnixNano())
		slices.Sort(w.At)
		ok = true
		return true, nil
	})
	if err != nil {
		return false, 0, wrap("take slot", err)
	}
	return ok, wait, nil
}

// AnswerSlot implements pipeline.RateWindow.
func (s *Store) AnswerSlot(ctx context.Context, account string, sent, answered time.Time) error {
	from, to := sent.UnixNano(), answered.UnixNano()
	err := update(ctx, s, key("rate", account), func(w *window, _ bool) (bool, error) {
		// w.At is sorted: the first at or after sent is the earliest.
		i, _ := slices.BinarySearch(w.At, from)
		if i < len(w.At) && w.At[i] <= to {
			w.At[i] = to
		} else {
			w.At = append(w.At, to)
		}
		slices.Sort(w.At)
		return true, nil
	})
	return wrap("answer slot", err)
}

type count struct {
	N int `json:"n"`
}

func quotaKey(account string, at time.Time) string {
	return key("quota", account, at.UTC().Format("2006-01-02"))
}

// AddQuota implements pipeline.Quota.
func (s *Store) AddQuota(ctx context.Context, account string, at time.Time, n int) (int, error) {
	var total int
	err := update(ctx, s, quotaKey(account, at), func(c *count, _ bool) (bool, error) {
		c.N += n
		total = c.N
		return true, nil
	})
	return total, wrap("add quota", err)
}

// QuotaUsed implements pipeline.Quota.
func (s *Store) QuotaUsed(ctx context.Context, account string, at time.Time) (int, error) {
	var c count
	_, _, err := s.get(ctx, quotaKey(account, at), &c)
	return c.N, wrap("quota used", err)
}

// TakeQuota implements pipeline.Quota.
func (s *Store) TakeQuota(ctx context.Context, account string, at time.Time, limit int) (bool, int, error) {
	var ok bool
	var used int
	err := update(ctx, s, quotaKey(account, at), func(c *count, _ bool) (bool, error) {
		if c.N >= limit {
			ok, used = false, c.N
			return false, nil
		}
		c.N++
		ok, used = true, c.N
		return true, nil
	})
	if err != nil {
		return false, 0, wrap("take quota", err)
	}
	return ok, used, nil
}

// ---- dead letters ----

// deadLetterKey orders ids as text: 20 digits hold every int64.
func deadLetterKey(id int64) string { return "dead." + fmt.Sprintf("%020d", id) }

func (s *Store) addDeadLetter(ctx context.Context, d pipeline.DeadLetter) (int64, error) {
	var id int64
	err := update(ctx, s, "meta.dead_letter_seq", func(c *count, _ bool) (bool, error) {
		c.N++
		id = int64(c.N)
		return true, nil
	})
	if err != nil {
		return 0, wrap("add dead letter", err)
	}
	now := s.now().UTC()
	d.ID, d.Status, d.CreatedAt, d.UpdatedAt = id, pipeline.DeadLetterOpen, now, now
	return id, wrap("add dead letter", s.put(ctx, deadLetterKey(id), d))
}

// DeadLetters implements pipeline.DeadLetters. It reads every entry: dead
// letters are few, and entries are never deleted.
func (s *Store) DeadLetters(ctx context.Context, f pipeline.DeadLetterFilter) ([]pipeline.DeadLetter, error) {
	if f.ID != 0 {
		d, err := s.DeadLetter(ctx, f.ID)
		if errors.Is(err, pipeline.ErrNotFound) || (err == nil && !matches(d, f)) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []pipeline.DeadLetter{d}, nil
	}
	ks, err := s.keys(ctx, "dead")
	if err != nil {
		return nil, wrap("dead letters", err)
	}
	sort.Strings(ks)
	var out []pipeline.DeadLetter
	for _, k := range ks {
		var d pipeline.DeadLetter
		_, found, err := s.get(ctx, k, &d)
		if err != nil {
			return nil, wrap("dead letters", err)
		}
		if found && matches(d, f) {
			out = append(out, d)
		}
	}
	return out, nil
}

func matches(d pipeline.DeadLetter, f pipeline.DeadLetterFilter) bool {
	return (f.Route == "" || d.Route == f.Route) && (f.Code == "" || d.Code == f.Code) && (f.Status == "" || d.Status == f.Status)
}

// DeadLetter implements pipeline.DeadLetters.
func (s *Store) DeadLetter(ctx context.Context, id int64) (pipeline.DeadLetter, error) {
	var d pipeline.DeadLetter
	_, found, err := s.get(ctx, deadLetterKey(id), &d)
	if err != nil {
		return d, wrap("dead letter", err)
	}
	if !found {
		return d, fmt.Errorf("dead letter %d: %w", id, pipeline.ErrNotFound)
	}
	return d, nil
}

// CountDeadLetters implements pipeline.DeadLetters.
func (s *Store) CountDeadLetters(ctx context.Context, route string) (int, error) {
	ds, err := s.DeadLetters(ctx, pipeline.DeadLetterFilter{Route: route, Status: pipeline.DeadLetterOpen})
	return len(ds), err
}

// SetDeadLetterStatus implements pipeline.DeadLetters.
func (s *Store) SetDeadLetterStatus(ctx context.Context, id int64, status string) error {
	found := false
	err := update(ctx, s, deadLetterKey(id), func(d *pipeline.DeadLetter, ok bool) (bool, error) {
		found = ok
		if !ok {
			return false, nil
		}
		d.Status, d.UpdatedAt = status, s.now().UTC()
		return true, nil
	})
	if err != nil {
		return wrap("set dead letter status", err)
	}
	if !found {
		return fmt.Errorf("dead letter %d: %w", id, pipeline.ErrNotFound)
	}
	return nil
}

// ---- named checkpoints and backfill runs ----

type checkpoint struct {
	Seq     uint64                   `json:"seq"`
	Offsets map[string]map[int]int64 `json:"offsets,omitempty"`
	At      time.Time                `json:"at"`
}

// SaveCheckpoint implements pipeline.Checkpoints.
func (s *Store) SaveCheckpoint(ctx context.Context, name string, pos pipeline.Position) error {
	c := checkpoint{Seq: pos.Seq, Offsets: pos.Offsets, At: s.now().UTC()}
	return wrap("save checkpoint", s.put(ctx, key("checkpoint", name), c))
}

// Checkpoint implements pipeline.Checkpoints.
func (s *Store) Checkpoint(ctx context.Context, name string) (pipeline.Position, time.Time, error) {
	var c checkpoint
	_, found, err := s.get(ctx, key("checkpoint", name), &c)
	if err != nil {
		return pipeline.Position{}, time.Time{}, wrap(fmt.Sprintf("checkpoint %q", name), err)
	}
	if !found {
		return pipeline.Position{}, time.Time{}, fmt.Errorf("checkpoint %q: %w", name, pipeline.ErrNotFound)
	}
	return pipeline.Position{Seq: c.Seq, Offsets: c.Offsets}, c.At, nil
}

func backfillKey(source, since, until string) string { return key("backfill", source, since, until) }

// BackfillRun implements pipeline.BackfillRuns.
func (s *Store) BackfillRun(ctx context.Context, source, since, until string) (pipeline.BackfillRun, error) {
	r := pipeline.BackfillRun{Source: source, Since: since, Until: until}
	_, found, err := s.get(ctx, backfillKey(source, since, until), &r)
	if err != nil {
		return r, wrap("backfill run", err)
	}
	if !found {
		return r, pipeline.ErrNotFound
	}
	return r, nil
}

// SaveBackfillRun implements pipeline.BackfillRuns.
func (s *Store) SaveBackfillRun(ctx context.Context, r pipeline.BackfillRun) error {
	r.UpdatedAt = s.now().UTC()
	return wrap("save backfill run", s.put(ctx, backfillKey(r.Source, r.Since, r.Until), r))
}

// ---- leases ----

type lease struct {
	Holder string `json:"holder"`
	Until  int64  `json:"until"` // unix nanoseconds
}

// TryLease implements pipeline.Leases with a compare-and-set on the lease's
// key. Expiry is judged on the caller's clock: keep instances' clocks in
// step (NTP) well within the lease's TTL.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := update(ctx, s, key("lease", name), func(l *lease, _ bool) (bool, error) {
		now := s.now()
		if l.Holder != "" && l.Holder != holder && l.Until > now.UnixNano() {
			ok = false
			return false, nil
		}
		l.Holder, l.Until, ok = holder, now.Add(ttl).UnixNano(), true
		return true, nil
	})
	if err != nil {
		return false, wrap("lease "+name, err)
	}
	return ok, nil
}

// ReleaseLease implements pipeline.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := update(ctx, s, key("lease", name), func(l *lease, found bool) (bool, error) {
		if !found || l.Holder != holder {
			return false, nil
		}
		*l = lease{}
		return true, nil
	})
	return wrap("release lease "+name, err)
}

// ListLeases implements pipeline.LeaseLister: the leases held now.
func (s *Store) ListLeases(ctx context.Context) ([]pipeline.LeaseInfo, error) {
	ks, err := s.keys(ctx, "lease")
	if err != nil {
		return nil, wrap("leases", err)
	}
	now := s.now()
	var out []pipeline.LeaseInfo
	for _, k := range ks {
		var l lease
		_, found, err := s.get(ctx, k, &l)
		if err != nil {
			return nil, wrap("leases", err)
		}
		if !found || l.Holder == "" || l.Until <= now.UnixNano() {
			continue
		}
		out = append(out, pipeline.LeaseInfo{Name: untok(strings.TrimPrefix(k, "lease.")), Holder: l.Holder, Until: time.Unix(0, l.Until).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var (
	_ pipeline.Leases      = (*Store)(nil)
	_ pipeline.LeaseLister = (*Store)(nil)
)
