package app

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"
)

// exportedMetrics lists every metric name /metrics can serve: the names of
// observe.go's descriptors and those of the Go and process collectors it
// registers.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("observe.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`prometheus\.NewDesc\(\s*"([a-z0-9_]+)"`).FindAllSubmatch(src, -1) {
		names[string(m[1])] = true
	}
	if len(names) < 10 {
		t.Fatalf("found only %d descriptors in observe.go", len(names))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

// metricRef finds the metric names an expression uses (crmsync's, the Go
// runtime's and the process's).
var metricRef = regexp.MustCompile(`\b(?:crmsync|go|process)_[a-z0-9_]+\b`)

// checkExpr reports metric names of expr that crmsync does not export.
func checkExpr(t *testing.T, where, expr string, exported map[string]bool, used map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	if len(refs) == 0 && !strings.Contains(expr, "up{") {
		t.Errorf("%s: %q uses no crmsync metric", where, expr)
	}
	for _, name := range refs {
		used[name] = true
		if !exported[name] {
			t.Errorf("%s: %s is not a metric crmsync exports", where, name)
		}
	}
}

// TestDeployDashboardUsesExportedMetrics: the Grafana dashboard parses, its
// panels have unique ids and queries, and every metric it queries is one
// crmsync exports.
func TestDeployDashboardUsesExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	b, err := os.ReadFile("../../deploy/grafana/crmsync.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without uid, title or panels")
	}
	used := map[string]bool{}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			checkExpr(t, "variable "+v.Name, q["query"].(string), exported, used)
		}
	}
	ids := map[int]string{}
	for _, p := range dash.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr(t, "panel "+p.Title, q.Expr, exported, used)
		}
	}
	// The figures an operator looks at first are on the dashboard.
	for _, m := range []string{"crmsync_route_backlog", "crmsync_route_lag_seconds", "crmsync_dead_letters_open",
		"crmsync_quota_used", "crmsync_quota_limit", "crmsync_vendor_errors_total", "crmsync_leadexec_missed_deliveries_total",
		"crmsync_route_state_retries_total", "crmsync_webhook_deliveries_total"} {
		if !used[m] {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
}

// TestDeployAlertRulesUseExportedMetrics: the Prometheus rule file has the
// shape Prometheus loads (groups of named rules, each with an expression, a
// valid "for", a severity and a summary), and every metric its rules use is
// one crmsync exports. (.ci/run also runs promtool check rules over it.)
func TestDeployAlertRulesUseExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(file.Groups) == 0 {
		t.Fatal("alerts.yml has no groups")
	}
	used := map[string]bool{}
	alerts := map[string]bool{}
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a group needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" || alerts[r.Alert] {
				t.Errorf("%s: empty or repeated alert name", where)
			}
			alerts[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			if !slices.Contains([]string{"warning", "critical"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q is not warning or critical", where, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", where)
			}
			checkExpr(t, where, r.Expr, exported, used)
		}
	}
	for _, m := range []string{"crmsync_route_backlog", "crmsync_route_lag_seconds", "crmsync_route_dead_letters_total",
		"crmsync_quota_used", "crmsync_vendor_errors_total", "crmsync_leadexec_missed_deliveries_total", "crmsync_route_state_retries_total"} {
		if !used[m] {
			t.Errorf("no alert watches %s", m)
		}
	}
}
