package cli

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/app"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoEndsWithTheSummaryLine(t *testing.T) {
	code, out, errs := run(t, "demo", "--leads", "120")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	re := regexp.MustCompile(`(?m)^demo: ok routes=8 events=(\d+) upserts=(\d+) dlq=0 mismatches=0 elapsed=\S+\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("summary line missing or wrong: %q", out)
	}
	// 120 leads, 24 of them edited twice, through two LeadExec routes (LeadExec's
	// retries add nothing), then the SharpSpring and iVvy pollers' events.
	if events, _ := strconv.Atoi(m[1]); events < 2*168 {
		t.Fatalf("events = %d, want at least %d", events, 2*168)
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	code, out, _ := run(t, "help")
	for _, c := range []string{"run", "demo", "sim", "config"} {
		if code != 0 || !strings.Contains(out, "  "+c+" ") {
			t.Fatalf("help lacks %s: %q", c, out)
		}
	}
	if code, _, errs := run(t, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, %q", code, errs)
	}
	if code, _, errs := run(t, "demo", "--help"); code != 0 || !strings.Contains(errs, "--leads") && !strings.Contains(errs, "-leads") {
		t.Fatalf("demo --help: %d %q", code, errs)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Setenv("SHARPSPRING_ACCOUNT_ID", "1")
	t.Setenv("SHARPSPRING_SECRET_KEY", "k")
	t.Setenv("LEADEXEC_WEBHOOK_PASSWORD", "p")
	t.Setenv("IVVY_API_KEY", "k")
	t.Setenv("IVVY_API_SECRET", "s")
	t.Setenv("GETLEAD_TOKEN", "gl_t")
	t.Setenv("GETLEAD_API_KEY", "ik_k")
	t.Setenv("LEADEXEC_KEY", "k")
	t.Setenv("LEADEXEC_CLIENT_ID", "id")
	t.Setenv("LEADEXEC_CLIENT_SECRET", "s")
	t.Setenv("LEADEXEC_POSTING_API_KEY", "p")
	code, out, errs := run(t, "config", "check", "--config", "../../crmsync.example.yaml")
	if code != 0 || !strings.Contains(out, "ok (7 route(s), 1 catalog field(s))") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	t.Setenv("SHARPSPRING_SECRET_KEY", "")
	code, _, errs = run(t, "config", "check", "--config", "../../crmsync.example.yaml")
	if code != 1 || !strings.Contains(errs, "sharpspring.secret_key: is required") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, _, errs = run(t, "run", "--config", "/nonexistent.yaml")
	if code != 1 || !strings.Contains(errs, "nonexistent.yaml") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestBackfillHelpDescribesEverySource(t *testing.T) {
	code, _, errs := run(t, "backfill", "--help")
	if code != 0 {
		t.Fatalf("backfill --help: exit %d", code)
	}
	for _, src := range app.BackfillSources() {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(src) + ` `).MatchString(errs) {
			t.Errorf("backfill --help has no paragraph for %s:\n%s", src, errs)
		}
	}
}
