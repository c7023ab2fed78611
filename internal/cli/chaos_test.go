package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestChaos runs the crash test at a size that fits CI: 'crmsync run' as a
// child process, SIGKILLed 20 times while leads flow through eight routes;
// the verdict must be 0 lost, 0 duplicates, 0 mismatches. The full-size run
// is 'crmsync chaos --leads 100000 --kills 20' (CRMSYNC_CHAOS_LEADS sets the
// size here).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	leads := "400"
	if s := os.Getenv("CRMSYNC_CHAOS_LEADS"); s != "" {
		leads = s
	}
	out, err := exec.Command(binary(t), "chaos", "--leads", leads, "--kills", "20", "-v").CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "chaos: ok kills=20 ") || !strings.Contains(text, " lost=0 duplicates=0 mismatches=0 ") {
		t.Fatalf("chaos: %v\n%s", err, text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	t.Log(lines[len(lines)-1])
}

// TestChaosThreeInstances is the crash test with three instances sharing
// one NATS server and their state (state.kind nats): deliveries spread over
// all three, and each kill picks one at random, so routes and pollers fail
// over between instances. The full-size run is 'crmsync chaos --leads 20000
// --kills 10 --instances 3'.
func TestChaosThreeInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	leads := "300"
	if s := os.Getenv("CRMSYNC_CHAOS_LEADS"); s != "" {
		leads = s
	}
	out, err := exec.Command(binary(t), "chaos", "--leads", leads, "--kills", "6", "--instances", "3", "-v").CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "chaos: ok kills=6 instances=3 ") || !strings.Contains(text, " lost=0 duplicates=0 mismatches=0 ") {
		t.Fatalf("chaos: %v\n%s", err, text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	t.Log(lines[len(lines)-1])
}
