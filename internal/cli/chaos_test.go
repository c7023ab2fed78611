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
	chaosBinary(t, "400", "chaos: ok kills=20 ", "--kills", "20")
}

// TestChaosThreeInstances is the crash test with three instances sharing
// one NATS server and their state (state.kind nats): deliveries spread over
// all three, and each kill picks one at random, so routes and pollers fail
// over between instances. The full-size run is 'crmsync chaos --leads 20000
// --kills 10 --instances 3'.
func TestChaosThreeInstances(t *testing.T) {
	chaosBinary(t, "300", "chaos: ok kills=6 instances=3 ", "--kills", "6", "--instances", "3")
}

// chaosBinary runs 'crmsync chaos -v' with args over leads leads
// (CRMSYNC_CHAOS_LEADS overrides it) and requires it to succeed, print ok
// (its verdict line's start) and count 0 lost, 0 duplicates and 0
// mismatches.
func chaosBinary(t *testing.T, leads, ok string, args ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the binary")
	}
	if s := os.Getenv("CRMSYNC_CHAOS_LEADS"); s != "" {
		leads = s
	}
	// A run that cannot converge gives up well before the package's test
	// timeout, so that its report (what still differs) is printed.
	args = append(append([]string{"chaos", "--leads", leads, "--timeout", "8m"}, args...), "-v")
	out, err := exec.Command(binary(t), args...).CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, ok) || !strings.Contains(text, " lost=0 duplicates=0 mismatches=0 ") {
		t.Fatalf("chaos: %v\n%s", err, text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	t.Log(lines[len(lines)-1])
}
