package sharpspring

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// A second holding more leads than a page, some of which change (and so
// leave the second) while it is read: every lead is read all the same. With
// offset paging, the leads after a page boundary shifted down and as many
// as had changed were never read.
func TestReadSecondMissesNoLeadWhenLeadsLeaveTheSecond(t *testing.T) {
	const pageSize, total, leaving = 500, 1200, 35
	inSecond := map[int64]bool{}
	for id := int64(1); id <= total; id++ {
		inSecond[id] = true
	}
	requests := 0
	read := func(_ context.Context, limit, offset int) ([]sharpspring.Lead, error) {
		requests++
		var page []sharpspring.Lead
		for id := int64(1); id <= total && len(page) < limit; id++ {
			if !inSecond[id] {
				continue
			}
			if offset > 0 {
				offset--
				continue
			}
			page = append(page, sharpspring.Lead{"id": strconv.FormatInt(id, 10), "updateTimestamp": "2026-12-02 10:47:33"})
		}
		return page, nil
	}
	first, _ := read(context.Background(), pageSize, 0)
	// Leads of the first page are changed by someone: they move to a later
	// second, which a later window reads.
	for id := int64(1); id <= leaving; id++ {
		delete(inSecond, id)
	}
	out := map[int64]sharpspring.Lead{}
	if err := readSecond(context.Background(), pageSize, first, read, out, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= total; id++ {
		if _, ok := out[id]; !ok {
			t.Fatalf("lead %d was never read (%d of %d read in %d requests)", id, len(out), total, requests)
		}
	}
}
