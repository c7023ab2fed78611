package app

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// `checkpoint save` then `replay --checkpoint` re-runs exactly what came
// after the checkpoint, on NATS (a stream sequence) and on Kafka (offsets
// per topic and partition) alike: nothing at all right after saving it, and
// later only the drift of records published after it.
func TestACheckpointReplaysOnlyWhatCameAfterItOnEitherBus(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		ctx := context.Background()
		h := newHarness(t, harnessOptions{bus: bus, linger: 30 * time.Millisecond})
		h.start()
		for i := range 5 {
			h.deliver(int64(i), leadFields(i))
		}
		h.settle(5)
		off, b := openOffline(t, h.cfg)
		writes := h.leadWrites

		pos, err := off.SaveCheckpoint(ctx, b, "before-batch-2")
		if err != nil {
			t.Fatal(err)
		}
		if bus == "kafka" && len(pos.Offsets["crm.lead.leadexec"]) == 0 {
			t.Fatalf("the Kafka checkpoint %s has no offsets of the LeadExec topic", pos)
		}
		if bus == "nats" && pos.Seq == 0 {
			t.Fatalf("the NATS checkpoint %s has no stream sequence", pos)
		}
		before := writes()
		sum, err := off.Replay(ctx, b, ReplayOptions{Route: "le-ss", Checkpoint: "before-batch-2"})
		if err != nil || sum.Events != 0 || sum.Written != 0 || writes() != before {
			t.Fatalf("replay right after the checkpoint: %+v, %v; writes %d → %d; want nothing read or written", sum, err, before, writes())
		}

		// Two leads arrive after it. Someone edits one of them in
		// SharpSpring, and one from before the checkpoint.
		h.deliver(100, leadFields(100))
		h.deliver(101, leadFields(101))
		h.settle(7)
		for _, i := range []int{1, 100} {
			h.editLead(fmt.Sprintf("lead%d@example.com", i), map[string]string{"firstName": "Edited"})
		}
		before = writes()
		sum, err = off.Replay(ctx, b, ReplayOptions{Route: "le-ss", Checkpoint: "before-batch-2"})
		if err != nil || sum.Events != 2 || sum.Changed != 1 || sum.Written != 1 || writes() != before+1 {
			t.Fatalf("replay from the checkpoint: %+v, %v; writes %d → %d; want the two later leads read and one written", sum, err, before, writes())
		}
		if got := h.lead("lead100@example.com")["firstName"]; got != "First100" {
			t.Errorf("lead 100 after the replay: firstName %q, want First100 put back", got)
		}
		if got := h.lead("lead1@example.com")["firstName"]; got != "Edited" {
			t.Errorf("lead 1, published before the checkpoint: firstName %q, want the edit left alone", got)
		}
	})
}
