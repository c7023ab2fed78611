package cli

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func TestVerifyUsage(t *testing.T) {
	if code, _, errs := run(t, "verify"); code != 2 || !strings.Contains(errs, "--route is required") {
		t.Errorf("verify without --route: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run(t, "verify", "--route", "r", "--since", "yesterday"); code != 2 || !strings.Contains(errs, "--since") {
		t.Errorf("verify with a bad --since: exit %d, stderr %q", code, errs)
	}
}

// verify against a target that holds none of the source's records: every
// record is reported missing, in text and in JSON, with exit status 3, and
// nothing is written.
func TestVerifyReportsWhatTheTargetLacks(t *testing.T) {
	iv := ivvysim.New(ivvysim.Options{})
	ivSrv := httptest.NewServer(iv)
	defer ivSrv.Close()
	defer iv.Close()
	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "ss-secret"}})
	ssSrv := httptest.NewServer(ss)
	defer ssSrv.Close()
	defer ss.Close()
	const n = 7
	for i := range n {
		cid := iv.SeedContact(ivvysim.Contact{FirstName: "V", LastName: fmt.Sprint(i), Email: fmt.Sprintf("v%d@example.com", i)})
		iv.SeedLead(ivvysim.Lead{Name: fmt.Sprint("Lead ", i), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "crmsync.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: ss-secret}
ivvy: {endpoint: %s, api_key: %s, api_secret: %s}
routes: [{name: iv-ss, from: ivvy.lead, to: sharpspring.lead}]
`, filepath.Join(dir, "data"), ssSrv.URL, ivSrv.URL, ivvysim.DefaultKey, ivvysim.DefaultSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "verify", "--config", cfg, "--route", "iv-ss")
	if code != 3 || strings.Count(out, "missing in the target") != n ||
		!strings.Contains(out, fmt.Sprintf("verify: route=iv-ss compared=%d pages=1 differ=%d missing=%d", n, n, n)) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, out, errs = run(t, "verify", "--config", cfg, "--route", "iv-ss", "--json")
	var rep struct {
		Compared, Differ, Missing int
		Records                   []struct{ Missing bool }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 3 || rep.Compared != n || rep.Differ != n || rep.Missing != n || len(rep.Records) != n {
		t.Fatalf("--json: exit %d, %+v, %v\nstdout: %s\nstderr: %s", code, rep, err, out, errs)
	}
	if st := ss.Stats(); st.ByMethod["createLeads"]+st.ByMethod["updateLeads"]+st.ByMethod["updateLeadsV2"] != 0 || len(ss.Leads()) != 0 {
		t.Errorf("verify wrote to SharpSpring: %+v", st.ByMethod)
	}
	if code, _, errs := run(t, "verify", "--config", cfg, "--route", "nope"); code != 1 || !strings.Contains(errs, `no route "nope"`) {
		t.Errorf("verify of an unknown route: exit %d, stderr %q", code, errs)
	}
}
