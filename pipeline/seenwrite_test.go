package pipeline

import (
	"log/slog"
	"testing"
	"time"
)

// TestAChangeReportedAfterTheWriteWasSeenIsNotAnEcho: crmsync writes a
// color into a new record at a target; the write lands but its answer comes
// only after retries, and the target's poller reports the record holding
// the color before the write settles. A user then clears the color in the
// same second as the write's last retry (the target stamps to the second).
// The clear is a change made at the target, not a read from before the
// write landed: the target was already seen holding the written value.
func TestAChangeReportedAfterTheWriteWasSeenIsNotAnEcho(t *testing.T) {
	sent := time.Date(2026, 12, 4, 21, 44, 57, 900_000_000, time.UTC)
	changed := sent.Add(-300 * time.Millisecond) // the color's change at the source
	echoed := time.Date(2026, 12, 4, 21, 44, 58, 0, time.UTC)
	settled := time.Date(2026, 12, 4, 21, 45, 0, 106_000_000, time.UTC)
	cleared := time.Date(2026, 12, 4, 21, 45, 0, 0, time.UTC)
	h := ValueHash("teal")
	toTarget := &Runner{r: Route{To: Target{Vendor: "ivvy", Entity: "lead"}}, srcVendor: "sharpspring", srcEntity: "lead",
		log: slog.New(slog.DiscardHandler), now: func() time.Time { return settled }}
	fromTarget := &Runner{r: Route{To: Target{Vendor: "sharpspring", Entity: "lead"}}, srcVendor: "ivvy", srcEntity: "lead",
		log: slog.New(slog.DiscardHandler), now: func() time.Time { return echoed }}
	apply := func(st settlement, e LedgerEntry) LedgerEntry {
		t.Helper()
		if len(st.ledger) != 1 {
			t.Fatalf("%d ledger puts", len(st.ledger))
		}
		e, _ = st.ledger[0].Update(e)
		return e
	}
	// The write, sent (as markIntended leaves it).
	e := LedgerEntry{Fields: map[string]FieldStamp{"color": {Wrote: []string{"sharpspring:" + h}, Sent: sent, WroteAt: changed}}}
	// The target's poller reports the color before the write settles.
	var echo settlement
	fromTarget.settleSource(&echo, &Record{Key: "k", source: map[string]string{"color": "teal"},
		sourceStamps: map[string]time.Time{"color": echoed}, sourceHeld: map[string]bool{"color": true}})
	e = apply(echo, e)
	// The write settles after its answer's retries.
	var written settlement
	toTarget.settleWritten(&written, &Record{Key: "k", Fields: map[string]string{"color": "teal"},
		Stamps: map[string]time.Time{"color": changed}}, Outcome{})
	e = apply(written, e)
	if readBeforeWrite(e.Fields["color"], cleared, emptyHash) {
		t.Fatalf("a clear reported after the target was seen holding the write is taken for a read from before it: %+v", e.Fields["color"])
	}
	// Without the earlier report, a report in the write's second showing
	// the value from before it is still a read made before it landed.
	fresh := FieldStamp{Wrote: []string{"sharpspring:" + h}, Hash: h, At: changed, Sent: settled}
	if !readBeforeWrite(fresh, cleared, emptyHash) {
		t.Fatal("a report from the write's own second showing the value before it is no longer taken for a read before it")
	}
}

// setBack is a field cleared by crmsync at a target (written at
// written), then reported by the target's own poller; its ledger entry is
// e, as both routes of the pair settle it.
type setBack struct {
	field      string
	fromTarget *Runner
	e          LedgerEntry
}

func newSetBack(target, source, field string, cleared, written time.Time) *setBack {
	toTarget := &Runner{r: Route{To: Target{Vendor: target, Entity: "lead"}}, srcVendor: source, srcEntity: "lead",
		log: slog.New(slog.DiscardHandler), now: func() time.Time { return written }}
	sb := &setBack{field: field, fromTarget: &Runner{r: Route{To: Target{Vendor: source, Entity: "lead"}},
		srcVendor: target, srcEntity: "lead", log: slog.New(slog.DiscardHandler)}}
	var st settlement
	toTarget.settleWritten(&st, &Record{Key: "k", Fields: map[string]string{field: ""},
		Stamps: map[string]time.Time{field: cleared}}, Outcome{})
	sb.apply(st)
	return sb
}

func (sb *setBack) apply(st settlement) {
	for _, p := range st.ledger {
		sb.e, _ = p.Update(sb.e)
	}
}

// report settles the target's report of v, stamped at, as a route from
// the target does.
func (sb *setBack) report(v string, at time.Time) {
	var st settlement
	sb.fromTarget.settleSource(&st, &Record{Key: "k", source: map[string]string{sb.field: v},
		sourceStamps: map[string]time.Time{sb.field: at}, sourceHeld: map[string]bool{sb.field: v != ""}})
	sb.apply(st)
}

func (sb *setBack) stamp() FieldStamp { return sb.e.Fields[sb.field] }

// TestAValueSetBackAfterAChangeAtTheTargetIsNotAnEcho: crmsync clears a
// color at a target; a user there then sets it, and soon clears it again.
// The second clear shows the value crmsync wrote last, but the target was
// known to hold another value since, changed there after that write: it
// is the user's change, not crmsync's write coming back.
func TestAValueSetBackAfterAChangeAtTheTargetIsNotAnEcho(t *testing.T) {
	cleared := time.Date(2026, 12, 4, 21, 40, 0, 0, time.UTC)
	written := cleared.Add(2 * time.Second)
	set := written.Add(10 * time.Second)
	clearedAgain := set.Add(2 * time.Second)
	sb := newSetBack("ivvy", "sharpspring", "color", cleared, written)
	if !echoOfWrite(sb.stamp(), "", emptyHash, written) {
		t.Fatal("crmsync's own clear reported back is not taken for an echo")
	}
	sb.report("teal", set)
	if echoOfWrite(sb.stamp(), "", emptyHash, clearedAgain) {
		t.Fatalf("the user's clear after setting the color at the target is taken for crmsync's earlier clear: %+v", sb.stamp())
	}
	sb.report("", clearedAgain)
	if got := sb.stamp(); got.Hash != emptyHash || !got.At.Equal(clearedAgain) || !got.Seen.IsZero() {
		t.Fatalf("the clear is not recorded as the target's change: %+v", got)
	}
}

// TestAChangeReportedTwiceIsStillTheTargetsChange: as above, but the
// report of the user's value is settled twice with the same stamp: by each
// of the source's two routes, which share its ledger entries, or redelivered
// after a restart. The same report again is no echo: the clear that
// follows is still the user's change.
func TestAChangeReportedTwiceIsStillTheTargetsChange(t *testing.T) {
	cleared := time.Date(2026, 12, 4, 21, 40, 0, 0, time.UTC)
	written := cleared.Add(2 * time.Second)
	set := written.Add(10*time.Second + 429*time.Millisecond)
	sb := newSetBack("leadexec", "sharpspring", "budget", cleared, written)
	sb.report("126", set)
	sb.report("126", set)
	if got := sb.stamp(); !got.Seen.IsZero() || !got.At.Equal(set) {
		t.Fatalf("the same report again is recorded as an echo of it: %+v", got)
	}
	if echoOfWrite(sb.stamp(), "", emptyHash, set.Add(18*time.Second)) {
		t.Fatalf("the user's clear after the report came twice is taken for crmsync's earlier clear: %+v", sb.stamp())
	}
}

// TestAChangeReportedAgainLaterIsStillTheTargetsChange: as above, but the
// user's value is reported again later, because another field of the
// record changed. The value is still the target's own change, not an echo
// of one of crmsync's writes: the clear that follows is the user's.
func TestAChangeReportedAgainLaterIsStillTheTargetsChange(t *testing.T) {
	cleared := time.Date(2026, 12, 4, 21, 40, 0, 0, time.UTC)
	written := cleared.Add(2 * time.Second)
	set := written.Add(10 * time.Second)
	sb := newSetBack("leadexec", "sharpspring", "street", cleared, written)
	sb.report("Elm St", set)
	sb.report("Elm St", set.Add(5*time.Second))
	if echoOfWrite(sb.stamp(), "", emptyHash, set.Add(9*time.Second)) {
		t.Fatalf("the user's clear after the value was reported again is taken for crmsync's earlier clear: %+v", sb.stamp())
	}
}

// TestAValueWrittenLastFromAnotherVendorIsNotSentBack: a budget once
// cleared at iVvy was written empty into SharpSpring; later a LeadExec
// user set it and cleared it again, and crmsync wrote that clear into
// SharpSpring too. SharpSpring's report of the empty budget, in the
// second of that latest write, shows LeadExec's clear landing: iVvy,
// which holds the budget set in between, still needs it. It is no echo
// of iVvy's own earlier clear (full-size model test, seed 97: an iVvy
// budget stayed set after a clear made at LeadExec).
func TestAValueWrittenLastFromAnotherVendorIsNotSentBack(t *testing.T) {
	sent := time.Date(2026, 12, 5, 3, 49, 5, 154_000_000, time.UTC)
	st := FieldStamp{
		At: sent.Add(-60 * time.Millisecond), Hash: emptyHash, Sent: sent, Prev: ValueHash("864"),
		Wrote: []string{"leadexec:" + ValueHash("859"), "ivvy:" + emptyHash, "leadexec:" + ValueHash("864"), "leadexec:" + emptyHash},
	}
	reported := time.Date(2026, 12, 5, 3, 49, 5, 0, time.UTC)
	if echoOfWrite(st, "ivvy", emptyHash, reported) {
		t.Fatalf("the report of LeadExec's clear is taken for iVvy's earlier clear coming back: %+v", st)
	}
	if !echoOfWrite(st, "leadexec", emptyHash, reported) {
		t.Fatalf("the report of LeadExec's clear is not its echo to LeadExec: %+v", st)
	}
	// Written last from iVvy, the same report is iVvy's own clear.
	st.Wrote = []string{"leadexec:" + emptyHash, "leadexec:" + ValueHash("864"), "ivvy:" + emptyHash}
	if !echoOfWrite(st, "ivvy", emptyHash, reported) {
		t.Fatalf("the report of iVvy's clear is not its echo to iVvy: %+v", st)
	}
}

// TestAChangeAnotherRouteRecordedIsNotAnEchoForTheNext: crmsync once wrote
// iVvy's color clear into SharpSpring; later a SharpSpring user set a
// color, and then cleared it again. SharpSpring's report of the clear is
// taken by each route from SharpSpring; the first to settle it records it
// in the source's ledger as a change made there (the routes share that
// ledger). The route into iVvy, judging the same report after that, must
// still take it for a change, not for iVvy's own earlier clear coming back
// (full-size model test, seed 131: an iVvy color stayed set after a
// SharpSpring user cleared it).
func TestAChangeAnotherRouteRecordedIsNotAnEchoForTheNext(t *testing.T) {
	sent := time.Date(2026, 12, 5, 4, 33, 10, 811_000_000, time.UTC)
	cleared := time.Date(2026, 12, 5, 4, 33, 47, 0, time.UTC)
	wrote := []string{"leadexec:" + ValueHash("teal"), "ivvy:" + emptyHash}
	before := FieldStamp{At: time.Date(2026, 12, 5, 4, 33, 38, 0, time.UTC), Hash: ValueHash("red"), Sent: sent, Prev: ValueHash("teal"), Wrote: wrote}
	if echoOfWrite(before, "ivvy", emptyHash, cleared) {
		t.Fatalf("the clear, judged first, is taken for iVvy's earlier clear coming back: %+v", before)
	}
	recorded := before
	recorded.At, recorded.Hash = cleared, emptyHash
	if echoOfWrite(recorded, "ivvy", emptyHash, cleared) {
		t.Fatalf("the clear, judged after another route recorded it as a change, is taken for iVvy's earlier clear coming back: %+v", recorded)
	}
	// iVvy's clear itself, reported back after it was written, is an echo.
	written := FieldStamp{At: sent.Add(-time.Second), Hash: emptyHash, Sent: sent, Prev: ValueHash("teal"), Wrote: wrote}
	if !echoOfWrite(written, "ivvy", emptyHash, sent.Add(2*time.Second).Truncate(time.Second)) {
		t.Fatalf("iVvy's clear coming back is not taken for an echo: %+v", written)
	}
}

// TestAClearRecordedByOneRouteStaysAChangeForTheOthers: crmsync once wrote
// iVvy's budget clear into SharpSpring, and never anything else; a
// SharpSpring user then set a budget, and later cleared it. Every route
// from SharpSpring settles that report into the ledger they share. The
// first records the clear as a change made in SharpSpring; the next ones
// must leave it so, not take the field (now empty, and only ever written
// empty) for one never known to hold anything and restamp the clear as no
// change, which the route into iVvy would then take for iVvy's own clear
// coming back (full-size model test, seed 3143: an iVvy budget stayed set
// after a SharpSpring user cleared it).
func TestAClearRecordedByOneRouteStaysAChangeForTheOthers(t *testing.T) {
	sent := time.Date(2026, 12, 5, 11, 25, 6, 94_000_000, time.UTC)
	set := time.Date(2026, 12, 5, 11, 25, 33, 0, time.UTC)
	cleared := time.Date(2026, 12, 5, 11, 25, 52, 0, time.UTC)
	fields := map[string]FieldStamp{"budget": {At: set, Hash: ValueHash("2943"), Seen: set.Add(10 * time.Second),
		Sent: sent, Prev: ValueHash("2942"), Wrote: []string{"ivvy:" + emptyHash}}}
	report := sourceReport{fields: map[string]string{"budget": ""}, stamps: map[string]time.Time{"budget": cleared}}
	for route := range 3 {
		applyReport(fields, report)
		if st := fields["budget"]; st.Hash != emptyHash || !st.At.Equal(cleared) || !st.Seen.IsZero() {
			t.Fatalf("after route %d settled the clear: %+v; want it recorded as a change made at %v", route+1, st, cleared)
		}
	}
	if echoOfWrite(fields["budget"], "ivvy", emptyHash, cleared) {
		t.Fatalf("the clear is taken for iVvy's earlier clear coming back: %+v", fields["budget"])
	}
}
