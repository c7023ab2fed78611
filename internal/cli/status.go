package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "status --config FILE [--json]\n\nAsks the running instance (/status on http.admin_listen, else http.listen, with\nhttp.admin_token when set) for its sources, routes and quota; when it is not\nrunning, prints what the state database holds.", stderr)
	path := fs.String("config", "crmsync.yaml", "config file of the instance")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	st, live, err := fetchStatus(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: status: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := writeJSON(stdout, st); err != nil {
			fmt.Fprintf(stderr, "crmsync: status: %v\n", err)
			return 1
		}
		return 0
	}
	printStatus(stdout, st, live)
	return 0
}

// fetchStatus asks the running instance on its admin address; failing
// that, it reads the state database (WAL lets it read while an instance
// writes). An instance that refuses the admin token is an error, not a
// reason to show the database instead.
func fetchStatus(ctx context.Context, cfg *config.Config) (app.Status, bool, error) {
	var st app.Status
	host := cfg.HTTP.AdminAddr()
	if strings.HasPrefix(host, ":") || strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, "[::]:") {
		host = "127.0.0.1" + host[strings.LastIndex(host, ":"):]
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/status", nil)
	if tok := cfg.HTTP.AdminToken.Value(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if resp, err := client.Do(req); err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			what := "http.admin_token is not set in this config"
			if cfg.HTTP.AdminToken != "" {
				what = "it refused this config's http.admin_token"
			}
			return st, false, fmt.Errorf("the instance at %s asks for a token: %s", host, what)
		}
		if resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&st) == nil {
			return st, true, nil
		}
	}
	store, release, err := app.OpenStateAlone(ctx, cfg)
	if err != nil {
		return st, false, err
	}
	defer release() // read only: nothing to lose
	st.Time = time.Now().UTC()
	cursors, err := store.Cursors(ctx)
	if err != nil {
		return st, false, err
	}
	for _, c := range cursors {
		st.Sources = append(st.Sources, app.SourceStatus{Name: c.Source, Cursor: c.Cursor, LastSuccess: c.UpdatedAt})
	}
	for _, r := range cfg.Routes {
		rs := app.RouteStatus{Name: r.Name}
		rs.Position, _ = store.RoutePosition(ctx, r.Name)
		rs.DeadLetters, _ = store.CountDeadLetters(ctx, r.Name)
		st.Routes = append(st.Routes, rs)
	}
	if s := cfg.SharpSpring; s != nil {
		used, _ := store.QuotaUsed(ctx, s.Account(), st.Time)
		st.Quota = append(st.Quota, app.QuotaStatus{Account: s.Account(), Used: used, Limit: s.DailyQuota})
	}
	if iv := cfg.IVvy; iv != nil {
		used, _ := store.QuotaUsed(ctx, iv.Account(), st.Time)
		st.Quota = append(st.Quota, app.QuotaStatus{Account: iv.Account(), Used: used})
	}
	return st, false, nil
}

func printStatus(w io.Writer, st app.Status, live bool) {
	if live {
		fmt.Fprintf(w, "instance: running (status at %s)\n", st.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "instance: not reachable; showing the state database (no live counters)")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSOURCE\tCURSOR\tLAST SUCCESS")
	if len(st.Sources) == 0 {
		fmt.Fprintln(tw, "(none)\t\t")
	}
	for _, s := range st.Sources {
		last := "never"
		if !s.LastSuccess.IsZero() {
			last = s.LastSuccess.Format(time.RFC3339)
		}
		name := s.Name
		if s.Lease == "standby" {
			name += " (standby: another instance runs it)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, s.Cursor, last)
	}
	fmt.Fprintln(tw, "\nROUTE\tPOSITION\tBACKLOG\tLAG\tBACKFILL BACKLOG\tEVENTS\tUPSERTS\tSKIPPED\tRETRIES\tDEAD LETTERS\tSTATE RETRIES\tREAD BACKS")
	for _, r := range st.Routes {
		name := r.Name
		if r.Lease == "standby" {
			name += " (standby: another instance runs it)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1fs\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, r.Position, r.Backlog, r.LagSeconds,
			r.BackfillBacklog, r.Events, r.Upserts, r.Skipped, r.Retries, r.DeadLetters, r.StateRetries, r.ReadBacks)
	}
	fmt.Fprintln(tw, "\nACCOUNT\tQUOTA USED TODAY (UTC)\tLIMIT")
	for _, q := range st.Quota {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", q.Account, q.Used, q.Limit)
	}
	if len(st.Rate) > 0 {
		fmt.Fprintln(tw, "\nACCOUNT\tWAITED FOR THE RATE\tIN FLIGHT")
		for _, r := range st.Rate {
			fmt.Fprintf(tw, "%s\t%.1fs\t%d\n", r.Account, r.WaitedSeconds, r.InFlight)
		}
	}
	if wh := st.Webhook; wh != nil {
		var rej []string
		for k, v := range wh.Rejected {
			rej = append(rej, fmt.Sprintf("%s=%d", k, v))
		}
		fmt.Fprintf(tw, "\nWEBHOOK\taccepted=%d duplicates=%d rejected: %s\n", wh.Accepted, wh.Duplicates, strings.Join(rej, " "))
	}
	if sn := st.SafetyNet; sn != nil {
		fmt.Fprintf(tw, "\nLEADEXEC SAFETY NET\tpolls=%d missed_deliveries=%d\n", sn.Polls, sn.MissedDeliveries)
	}
	if len(st.Leases) > 0 {
		fmt.Fprintf(tw, "\nLEASE (this instance: %s)\tHOLDER\tUNTIL\n", st.Instance)
		for _, l := range st.Leases {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Name, l.Holder, l.Until.Format(time.RFC3339))
		}
	}
	tw.Flush()
}
