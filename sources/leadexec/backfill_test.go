package leadexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/pagetest"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

func TestLeadBackfillPublishesEveryLeadTypeOnceThroughTiesLargerThanAPage(t *testing.T) {
	fields := leadexecsim.DefaultLeadTypes()[0].Fields
	second := leadexecsim.LeadType{UID: 202, Name: "Auto", Fields: fields}
	other := leadexecsim.LeadType{UID: 203, Name: "Life", Fields: fields}
	e := newPollEnv(t, leadexecsim.Options{LeadTypes: append(leadexecsim.DefaultLeadTypes(), second, other)})
	base := e.clock.Now().Add(-48 * time.Hour)
	gen := leadexecsim.GenerateLeads(30, 3, []string{"Comments"})
	var want []string
	for i, l := range gen {
		lt, at := leadexecsim.DefaultLID, base.Add(time.Duration(i/2)*time.Second)
		switch {
		case i < 9: // nine leads added at one instant: more than four pages of 2
			at = base
		case i >= 24:
			lt = second.UID
		}
		uid := e.sim.AddLead(leadexecsim.StoredLead{LeadTypeUID: lt, DateAdded: at, Fields: l.Fields})
		want = append(want, strconv.FormatInt(uid, 10))
	}
	// A lead type not configured is not read.
	e.sim.AddLead(leadexecsim.StoredLead{LeadTypeUID: other.UID, DateAdded: base, Fields: gen[0].Fields})

	pager := func() pipeline.Pager {
		return &LeadPager{API: e.c, LeadTypes: []int64{leadexecsim.DefaultLID, second.UID}, PageSize: 2, Now: e.clock.Now}
	}
	total, err := pager().Total(context.Background())
	if err != nil || total != int64(len(want)) {
		t.Errorf("Total = %d, %v; want %d", total, err, len(want))
	}
	evs := pagetest.All(t, pager, nil)
	pagetest.OnceEach(t, evs, want)
	for i := 1; i < len(evs); i++ {
		if evs[i].ChangedAt.Before(evs[i-1].ChangedAt) && evs[i].Fields["Email"] != gen[24].Fields["Email"] {
			t.Errorf("event %d (%s) is older than the one before it", i, evs[i].ChangedAt)
		}
	}
}

func TestLeadBackfillEventsEqualTheSafetyNetsEvents(t *testing.T) {
	e := newPollEnv(t, leadexecsim.Options{})
	ctx := context.Background()
	fieldMap := map[string]string{"Comments": "Notes"}
	for i, l := range leadexecsim.GenerateLeads(6, 5, []string{"Comments"}) {
		e.sim.AddLead(leadexecsim.StoredLead{DateAdded: e.clock.Now().Add(-time.Duration(i+1) * time.Hour), Fields: l.Fields})
	}
	n, err := NewSafetyNet(SafetyNetConfig{LeadTypes: []int64{leadexecsim.DefaultLID}, FieldMap: fieldMap, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, e.c, e.bus, e.state)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := n.Poll(ctx); err != nil || res.Missed != 6 {
		t.Fatalf("safety net poll %+v %v", res, err)
	}
	live := e.drain("net", "lead")
	evs := pagetest.All(t, func() pipeline.Pager {
		return &LeadPager{API: e.c, LeadTypes: []int64{leadexecsim.DefaultLID}, FieldMap: fieldMap, PageSize: 4, Now: e.clock.Now}
	}, nil)
	pagetest.SameIDs(t, evs, live)
	for _, ev := range evs {
		if ev.Fields["Notes"] == "" && ev.Fields["Comments"] != "" {
			t.Errorf("lead %s: backfill fields %v: Comments not mapped to Notes", ev.ExternalID, ev.Fields)
		}
	}
}

func TestLeadBackfillRangeIsFixedOnTheFirstPage(t *testing.T) {
	e := newPollEnv(t, leadexecsim.Options{})
	base := e.clock.Now().Add(-10 * time.Hour)
	var in []string
	for i, l := range leadexecsim.GenerateLeads(10, 9, nil) {
		uid := e.sim.AddLead(leadexecsim.StoredLead{DateAdded: base.Add(time.Duration(i) * time.Hour), Fields: l.Fields})
		if i >= 2 && i <= 5 {
			in = append(in, strconv.FormatInt(uid, 10))
		}
	}
	pager := func() pipeline.Pager {
		return &LeadPager{API: e.c, LeadTypes: []int64{leadexecsim.DefaultLID}, PageSize: 1, Now: e.clock.Now,
			Since: base.Add(2 * time.Hour), Until: base.Add(5 * time.Hour)}
	}
	pagetest.OnceEach(t, pagetest.All(t, pager, nil), in)

	// Open-ended: the end is now minus the lag as of the first page; leads
	// added during the run (and later in DateAdded) are not read.
	var all []string
	for _, l := range e.sim.Leads() {
		all = append(all, strconv.FormatInt(l.UID, 10))
	}
	gen := leadexecsim.GenerateLeads(12, 9, nil)
	evs := pagetest.All(t, func() pipeline.Pager {
		return &LeadPager{API: e.c, LeadTypes: []int64{leadexecsim.DefaultLID}, PageSize: 3, Now: e.clock.Now}
	}, func(page int) {
		e.clock.Add(time.Hour)
		e.sim.AddLead(leadexecsim.StoredLead{DateAdded: e.clock.Now().Add(-2 * time.Minute), Fields: gen[10+page%2].Fields})
	})
	pagetest.OnceEach(t, evs, all)
}

func TestLeadBackfillRefusesACursorItDidNotWrite(t *testing.T) {
	e := newPollEnv(t, leadexecsim.Options{})
	p := &LeadPager{API: e.c, LeadTypes: []int64{leadexecsim.DefaultLID}}
	for _, c := range []string{"12", `{"v":1,"lead_type":201}`, `{"v":2}`,
		fmt.Sprintf(`{"v":1,"lead_type":999,"from":%q,"end":%q}`, time.Now().Format(time.RFC3339), time.Now().Format(time.RFC3339))} {
		if _, _, err := p.Page(context.Background(), c); !errors.Is(err, ErrBadBackfillCursor) {
			t.Errorf("cursor %s: err %v, want ErrBadBackfillCursor", c, err)
		}
	}
}

// TestLeadBackfillCursorFormat guards the persisted cursor: a stored run
// must resume after an upgrade.
func TestLeadBackfillCursorFormat(t *testing.T) {
	from, end := time.Date(2025, 3, 1, 10, 0, 0, 250e6, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const stored = `{"v":1,"lead_type":201,"from":"2025-03-01T10:00:00.25Z","seen":[5000000001,5000000002],"end":"2026-01-01T00:00:00Z"}`
	c := leadCursorJSON{V: leadCursorVersion, LeadType: 201, From: from, Seen: []int64{5000000001, 5000000002}, End: end}
	if got := c.encode(); got != stored {
		t.Errorf("encoded %s, want %s", got, stored)
	}
	p := &LeadPager{LeadTypes: []int64{201}}
	got, err := p.decode(stored)
	if err != nil || got.LeadType != 201 || !got.From.Equal(from) || !got.End.Equal(end) || len(got.Seen) != 2 {
		t.Errorf("decoded %+v, %v", got, err)
	}
}
