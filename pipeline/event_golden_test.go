package pipeline

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/golden"
)

// goldenEvents are events of every kind a source publishes, built the way
// each source builds them. Their ids are the bus message ids (the JetStream
// Nats-Msg-Id, the Kafka crmsync-event-id header) and the keys of the
// delivery receipts kept in the state database: if an id changes, an
// upgraded instance republishes, and the bus no longer drops, every event
// an older one already published.
var goldenEvents = []struct {
	name string
	ev   Event
}{
	{"leadexec webhook, live, no change time: the content hash is the only version", Event{
		Vendor: "leadexec", Entity: "lead", ExternalID: "7000000001",
		Fields: map[string]string{"FirstName": "Ann", "LastName": "O'Neil", "Email": "Ann.ONeil@Example.com",
			"PrimaryPhone": "(555) 010-2000", "Company": "Acme & Sons", "FavoriteColor": "teal"},
		ChangedAt: time.Date(2026, 3, 10, 17, 4, 5, 123456789, time.UTC),
	}},
	{"leadexec webhook, the same lead redelivered with the fields in another order", Event{
		Vendor: "leadexec", Entity: "lead", ExternalID: "7000000001",
		Fields: map[string]string{"FavoriteColor": "teal", "Company": "Acme & Sons", "PrimaryPhone": "(555) 010-2000",
			"Email": "Ann.ONeil@Example.com", "LastName": "O'Neil", "FirstName": "Ann"},
		ChangedAt: time.Date(2026, 3, 10, 17, 9, 0, 0, time.UTC), Origin: OriginLive,
	}},
	{"leadexec webhook with a change-time field (RFC 3339 version) and an explicit clear", Event{
		Vendor: "leadexec", Entity: "lead", ExternalID: "7000000002", Op: OpUpsert,
		Version:   "2026-03-10T17:04:05.5Z",
		Fields:    map[string]string{"Email": "bo@example.com", "Company": "", "Comments": "línea 1\nline 2 \"quoted\" <b>&amp;</b>"},
		ChangedAt: time.Date(2026, 3, 10, 17, 4, 5, 500000000, time.UTC), Origin: OriginLive,
	}},
	{"sharpspring poller, live (getLeadsDateRange updateTimestamp version)", Event{
		Vendor: "sharpspring", Entity: "lead", ExternalID: "88038560770",
		Version:   "2026-03-10 11:59:30",
		Fields:    map[string]string{"emailAddress": "ann@example.com", "firstName": "Ann", "Favorite_Color_5a0dd86e6e290": "teal", "active": "1"},
		ChangedAt: time.Date(2026, 3, 10, 11, 59, 30, 0, time.UTC), Origin: OriginLive,
	}},
	{"sharpspring backfill page", Event{
		Vendor: "sharpspring", Entity: "lead", ExternalID: "88038560770",
		Version:   "2026-03-10 11:59:30",
		Fields:    map[string]string{"emailAddress": "ann@example.com", "firstName": "Ann", "Favorite_Color_5a0dd86e6e290": "teal", "active": "1"},
		ChangedAt: time.Date(2026, 3, 10, 11, 59, 30, 0, time.UTC), Origin: OriginBackfill,
	}},
	{"sharpspring sweep: a deleted lead", Event{
		Vendor: "sharpspring", Entity: "lead", ExternalID: "88038560771", Op: OpDelete,
		Version: "deleted", Fields: map[string]string{},
		ChangedAt: time.Date(2026, 3, 11, 0, 0, 5, 0, time.UTC),
	}},
	{"sharpspring agency client snapshot diff: change counter and content hash version", Event{
		Vendor: "sharpspring", Entity: "client", ExternalID: "2036272130",
		Version:   "3:" + FieldsHash(map[string]string{"companyName": "Acme & Co", "city": "Austin", "state": "TX"}),
		Fields:    map[string]string{"companyName": "Acme & Co", "city": "Austin", "state": "TX"},
		ChangedAt: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC),
	}},
	{"leadexec client removed from the snapshot", Event{
		Vendor: "leadexec", Entity: "client", ExternalID: "20001", Op: OpDelete,
		Version: "4:removed", Fields: map[string]string{},
		ChangedAt: time.Date(2026, 3, 10, 12, 5, 0, 0, time.UTC),
	}},
	{"ivvy poller, live (modifiedDate version, flattened contact and custom fields)", ivvyLead(OriginLive)},
	{"ivvy backfill pager: the same lead, origin backfill (same id, backfill subject)", ivvyLead(OriginBackfill)},
	{"getlead poller, live (RFC 3339 nanosecond version, E.164 split)",
		getleadLead(time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC), OriginLive)},
	{"replay of a getlead event, change time in a non-UTC zone",
		getleadLead(time.Date(2026, 3, 1, 15, 30, 0, 123456000, time.FixedZone("IST", 5*3600+1800)), OriginReplay)},
	{"an event without fields (nil map)", Event{
		Vendor: "leadexec", Entity: "lead", ExternalID: "7000000003", Op: OpDelete,
		ChangedAt: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC),
	}},
}

// ivvyLead is an iVvy lead as the poller and the backfill pager build it,
// reached the bus by origin.
func ivvyLead(origin Origin) Event {
	return Event{
		Vendor: "ivvy", Entity: "lead", ExternalID: "5001",
		Version: "2026-03-02 11:30:00",
		Fields: map[string]string{"name": "Ann Lee", "description": "", "stageName": "New", "sourceName": "Web",
			"type": "1", "quality": "2", "channelName": "", "contact.id": "33001", "contact.firstName": "Ann",
			"contact.lastName": "Lee", "contact.email": "ann@example.com", "contact.phone": "555", "customFields.101": "teal"},
		ChangedAt: time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC), Origin: origin,
	}
}

// getleadLead is a Getlead lead as the poller builds it, changed at at
// (the same instant in any zone) and reached the bus by origin.
func getleadLead(at time.Time, origin Origin) Event {
	return Event{
		Vendor: "getlead", Entity: "lead", ExternalID: "01HX5Z3K7Q",
		Version: "2026-03-01T10:00:00.123456Z",
		Fields: map[string]string{"name": "Asha Rao", "email": "asha@example.com", "countrycode": "91",
			"mobileno": "9876543210", "status": "New", "favourite_colour": "teal"},
		ChangedAt: at, Origin: origin,
	}
}

// goldenValues are field values whose ValueHash the write ledger keeps: a
// changed hash makes every ledger entry look foreign, so two-way routes
// echo once after an upgrade.
var goldenValues = []string{"", "teal", "Ann.ONeil@Example.com", "+919876543210", "línea 1\nline 2"}

// goldenKeys are first keys of new records. Their canonical ids are the
// keys of the canonical change stream's messages, and a state rebuilt from
// the bus gives its records these ids again: a changed id moves a record
// to another key and partition. Numbered keys keep their order (see
// CanonicalID); "007" is not the number 7.
var goldenKeys = slices.Concat(
	keysOf("leadexec", "lead", KindID, "7000000001", "7000000002", "0", "18446744073709551615", "18446744073709551616", "007"),
	keysOf("sharpspring", "lead", KindID, "88038560770"),
	keysOf("sharpspring", "lead", KindEmail, "ann@example.com"),
	keysOf("getlead", "lead", KindPhone, "+919876543210"),
	keysOf("getlead", "lead", KindID, "01HX5Z3K7Q"),
)

// keysOf is a key of the vendor, entity and kind for each value.
func keysOf(vendor, entity, kind string, values ...string) []Key {
	keys := make([]Key, len(values))
	for i, v := range values {
		keys[i] = Key{Vendor: vendor, Entity: entity, Kind: kind, Value: v}
	}
	return keys
}

// renderGoldenEvents writes the ids, hashes, subjects and bus bytes of the
// golden events, one block per event.
func renderGoldenEvents(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Event ids, field hashes, subjects and bus envelopes (pipeline/event.go).\n")
	b.WriteString("# A change here breaks duplicate dropping across an upgrade: see event_golden_test.go.\n")
	for _, g := range goldenEvents {
		ev := g.ev
		if err := ev.Seal(); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		wire, err := ev.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		fmt.Fprintf(&b, "\n== %s\nid          %s\nfields_hash %s\nsubject     %s\nwire        %s\n",
			g.name, ev.ID, FieldsHash(ev.Fields), ev.Subject(), wire)
	}
	b.WriteString("\n== write ledger value hashes\n")
	for _, v := range goldenValues {
		fmt.Fprintf(&b, "%s %q\n", ValueHash(v), v)
	}
	b.WriteString("\n== canonical ids of new records by their first key\n")
	for _, k := range goldenKeys {
		fmt.Fprintf(&b, "%s %s/%s/%s %q\n", CanonicalID(k), k.Vendor, k.Entity, k.Kind, k.Value)
	}
	return b.String()
}

// TestEventFormatGolden pins the event id, the field hash, the subject and
// the serialized envelope of representative events. Run
// `go test ./pipeline -run Golden -update` only for a deliberate change of
// format, one that comes with a way for stored ids and hashes to carry over.
func TestEventFormatGolden(t *testing.T) {
	golden.Compare(t, "testdata/events.golden", []byte(renderGoldenEvents(t)))
}

// TestGoldenEnvelopesDecode: every envelope in the golden file, as an older
// instance put it on the bus, decodes to the event it was made from and
// keeps its id when sealed again, so events in flight across an upgrade are
// read and deduplicated.
func TestGoldenEnvelopesDecode(t *testing.T) {
	var wires []string
	for line := range strings.SplitSeq(golden.Read(t, "testdata/events.golden"), "\n") {
		if w, ok := strings.CutPrefix(line, "wire        "); ok {
			wires = append(wires, w)
		}
	}
	if len(wires) != len(goldenEvents) {
		t.Fatalf("golden file has %d envelopes, want %d", len(wires), len(goldenEvents))
	}
	for i, g := range goldenEvents {
		want := g.ev
		if err := want.Seal(); err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalEvent([]byte(wires[i]))
		if err != nil {
			t.Errorf("%s: %v", g.name, err)
			continue
		}
		if !got.ChangedAt.Equal(want.ChangedAt) {
			t.Errorf("%s: changed_at %v, want %v", g.name, got.ChangedAt, want.ChangedAt)
		}
		got.ChangedAt, want.ChangedAt = time.Time{}, time.Time{}
		if want.Fields == nil {
			want.Fields = map[string]string{} // nil and empty carry the same meaning: nothing changed
		}
		if got.Fields == nil {
			got.Fields = map[string]string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n %+v\nwant\n %+v", g.name, got, want)
		}
		id := got.ID
		if err := got.Seal(); err != nil || got.ID != id {
			t.Errorf("%s: sealed again: id %s (%v), bus carried %s", g.name, got.ID, err, id)
		}
	}
}

// TestCanonicalIDKeepsNumberOrder: within one vendor, entity and kind,
// numbered keys' ids sort as their numbers do (the state stores records by
// id, so a vendor's new records are stored side by side), and no two keys
// share an id.
func TestCanonicalIDKeepsNumberOrder(t *testing.T) {
	lead := func(v string) Key { return Key{Vendor: "leadexec", Entity: "lead", Kind: KindID, Value: v} }
	numbers := []string{"0", "1", "9", "10", "99", "100", "1000000", "4294967296", "18446744073709551615"}
	for i := 1; i < len(numbers); i++ {
		a, b := CanonicalID(lead(numbers[i-1])), CanonicalID(lead(numbers[i]))
		if a >= b {
			t.Errorf("id of %s (%s) does not sort before the id of %s (%s)", numbers[i-1], a, numbers[i], b)
		}
	}
	keys := []Key{
		lead("7"), lead("07"), lead("+7"), lead("7 "), lead("18446744073709551616"),
		{Vendor: "leadexec", Entity: "client", Kind: KindID, Value: "7"},
		{Vendor: "sharpspring", Entity: "lead", Kind: KindID, Value: "7"},
		{Vendor: "leadexec", Entity: "lead", Kind: KindExternal, Value: "7"},
		{Vendor: "leadexec", Entity: "lead", Kind: KindEmail, Value: "7@example.com"},
	}
	seen := map[string]Key{}
	for _, k := range keys {
		id := CanonicalID(k)
		if id != CanonicalID(k) {
			t.Fatalf("the id of %+v changes from call to call", k)
		}
		if other, ok := seen[id]; ok {
			t.Errorf("%+v and %+v share the id %s", other, k, id)
		}
		seen[id] = k
	}
}
