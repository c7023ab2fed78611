package snapshots

import (
	"errors"
	"slices"
	"testing"
)

func TestPageIDsKeepsItsPlaceByIDWhileTheSnapshotChanges(t *testing.T) {
	ids := []string{"10", "2", "33", "2", "4", "100"}
	page, next, err := PageIDs(ids, "", 2, CompareNumeric)
	if err != nil || !slices.Equal(page, []string{"2", "4"}) || next != `{"v":1,"after":"4"}` {
		t.Fatalf("first page %v %q %v", page, next, err)
	}
	// 4 removed, 3 (behind the place) and 11 added: the place holds.
	page, next, err = PageIDs([]string{"3", "2", "10", "11", "33", "100"}, next, 2, CompareNumeric)
	if err != nil || !slices.Equal(page, []string{"10", "11"}) {
		t.Fatalf("second page %v %q %v", page, next, err)
	}
	page, next, err = PageIDs(ids, next, 2, CompareNumeric)
	if err != nil || !slices.Equal(page, []string{"33", "100"}) || next != "" {
		t.Fatalf("last page %v %q %v", page, next, err)
	}
	for _, bad := range []string{"4", `{"v":2,"after":"4"}`, `{"v":1}`, `{"v":1,"after":"4","x":1}`} {
		if _, _, err := PageIDs(ids, bad, 2, nil); !errors.Is(err, ErrBadPageCursor) {
			t.Errorf("cursor %s: %v", bad, err)
		}
	}
}
