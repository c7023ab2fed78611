package checkpoints

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

// A claimed store answers a record never received without reading the
// file, and still finds every receipt: stored before the claim, queued
// before it, and taken after it.
func TestClaimedReceiptsAnswerNewRecordsFromMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path)
	const stored = 300
	for i := range stored {
		if err := s.RecordDelivery(ctx, "leadexec", "lead", fmt.Sprint(i), fmt.Sprintf("h%d", i), "ev"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordDelivery(ctx, "ivvy", "contact", "7", "hc", "ev"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	defer s.Close()
	// Queued before the claim, possibly not yet committed when it reads the
	// file.
	if err := s.QueueDelivery(ctx, "leadexec", "lead", "queued", "hq", "ev"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimReceipts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDelivery(ctx, "leadexec", "lead", "after", "ha", "ev"); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDelivery(ctx, "leadexec", "lead", "queued-after", "hqa", "ev"); err != nil {
		t.Fatal(err)
	}
	s.deliveries.drain()

	want := map[[3]string]string{
		{"ivvy", "contact", "7"}:             "hc",
		{"leadexec", "lead", "queued"}:       "hq",
		{"leadexec", "lead", "after"}:        "ha",
		{"leadexec", "lead", "queued-after"}: "hqa",
	}
	for i := range stored {
		want[[3]string{"leadexec", "lead", fmt.Sprint(i)}] = fmt.Sprintf("h%d", i)
	}
	for k, h := range want {
		got, err := s.Delivery(ctx, k[0], k[1], k[2])
		if err != nil || got != h {
			t.Errorf("Delivery%v = %q, %v; want %q", k, got, err, h)
		}
	}

	// With the read connections closed, only the filter can answer: every
	// record never received must get ErrNotFound from it, but for the few
	// it mistakes for received ones, which fail at the closed file.
	readers := s.rdb
	closed, err := sql.Open("sqlite3", "file:"+path+"?_query_only=true")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	s.rdb = closed
	defer func() { s.rdb = readers }()
	const unknown = 5000
	var fromMemory int
	for i := range unknown {
		_, err := s.Delivery(ctx, "leadexec", "lead", fmt.Sprintf("new-%d", i))
		switch {
		case errors.Is(err, pipeline.ErrNotFound):
			fromMemory++
		case err == nil:
			t.Fatalf("a record never received has a receipt: new-%d", i)
		}
	}
	// The filter's rate of false positives is 1%.
	if fromMemory < unknown*97/100 {
		t.Errorf("%d of %d records never received were answered without the file, want at least 97%%", fromMemory, unknown)
	}
	// The same external id of another entity or vendor is another record.
	for _, k := range [][3]string{{"leadexec", "client", "7"}, {"sharpspring", "contact", "7"}} {
		if _, err := s.Delivery(ctx, k[0], k[1], k[2]); err == nil {
			t.Errorf("Delivery%v found a receipt of ivvy/contact/7", k)
		}
	}
}

// One open store at a time holds the claim; closing it releases it.
func TestReceiptsAreClaimedOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	a := openAt(t, path)
	b := openAt(t, path)
	defer b.Close()
	if err := a.ClaimReceipts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.ClaimReceipts(ctx); !errors.Is(err, ErrReceiptsClaimed) {
		t.Fatalf("second claim on one file: %v, want ErrReceiptsClaimed", err)
	}
	// b, unclaimed, still answers from the file, receipts of a included.
	if err := a.RecordDelivery(ctx, "leadexec", "lead", "1", "h1", "ev"); err != nil {
		t.Fatal(err)
	}
	if h, err := b.Delivery(ctx, "leadexec", "lead", "1"); err != nil || h != "h1" {
		t.Fatalf("unclaimed store: Delivery = %q, %v; want h1", h, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.ClaimReceipts(ctx); err != nil {
		t.Fatalf("claim after the holder closed: %v", err)
	}
	if h, err := b.Delivery(ctx, "leadexec", "lead", "1"); err != nil || h != "h1" {
		t.Fatalf("after the claim: Delivery = %q, %v; want h1", h, err)
	}
}

// The filter holds every record added however far it grows, and keeps
// mistaking few others for them.
func TestReceiptFilterGrows(t *testing.T) {
	f := newReceiptFilter(0)
	const n = 5 * receiptFilterMin
	for i := range n {
		f.add("leadexec", "lead", fmt.Sprint(i))
	}
	if len(f.sets) < 3 {
		t.Fatalf("%d receipts in %d sets: the filter did not grow", n, len(f.sets))
	}
	for i := range n {
		if !f.mayHold("leadexec", "lead", fmt.Sprint(i)) {
			t.Fatalf("receipt %d lost", i)
		}
	}
	const others = 100000
	var wrong int
	for i := range others {
		if f.mayHold("leadexec", "lead", fmt.Sprintf("other-%d", i)) {
			wrong++
		}
	}
	if wrong > others*2*receiptFalsePositive {
		t.Errorf("%d of %d records never added taken for added ones, want at most %.0f%%", wrong, others, 200*receiptFalsePositive)
	}
}
