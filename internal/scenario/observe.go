package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/app"
)

// Observed is implemented by pipelines whose /status and /metrics count
// from the start of the scenario (an in-process instance; a restarted child
// starts its counters again). Play then checks that both agree with what
// the simulators counted.
type Observed interface {
	Observed() bool
}

// observedCounts are the figures /status and /metrics must agree on.
type observedCounts struct {
	sharpSpringRequests int64
	webhookAccepted     int64
}

// get GETs url; the caller closes the answer's body.
func get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// ReadStatus reads the /status of the instance serving base
// ("http://host:port"); ok is false while it does not answer.
func ReadStatus(ctx context.Context, base string) (st app.Status, ok bool) {
	resp, err := get(ctx, base+"/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return st, false
	}
	return st, true
}

// StatusIdle is Pipeline.Idle of an instance in another process, serving
// base: its /status answers with routes, and none of them has events left
// to deliver, backfill events included.
func StatusIdle(ctx context.Context, base string) bool {
	st, ok := ReadStatus(ctx, base)
	if !ok || len(st.Routes) == 0 {
		return false
	}
	for _, r := range st.Routes {
		if r.Backlog != 0 || r.BackfillBacklog != 0 {
			return false
		}
	}
	return true
}

func statusCounts(ctx context.Context, base string) (observedCounts, error) {
	var c observedCounts
	resp, err := get(ctx, base+"/status")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	var st struct {
		Webhook *struct {
			Accepted int64 `json:"accepted"`
		} `json:"webhook"`
		Vendors []struct {
			Vendor, Method string
			Count          int64
		} `json:"vendor_requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return c, fmt.Errorf("/status: %w", err)
	}
	if st.Webhook != nil {
		c.webhookAccepted = st.Webhook.Accepted
	}
	for _, v := range st.Vendors {
		if v.Vendor == "sharpspring" && v.Method != "" {
			c.sharpSpringRequests += v.Count
		}
	}
	return c, nil
}

func metricsCounts(ctx context.Context, base string) (observedCounts, error) {
	var c observedCounts
	resp, err := get(ctx, base+"/metrics")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "crmsync_vendor_requests_total{") && strings.Contains(line, `vendor="sharpspring"`):
			c.sharpSpringRequests += int64(v)
		case strings.HasPrefix(line, "crmsync_webhook_deliveries_total{") && strings.Contains(line, `outcome="accepted"`):
			c.webhookAccepted += int64(v)
		}
	}
	return c, sc.Err()
}

// checkObserved compares /status, /metrics and the simulators. The
// pipeline keeps polling while it is observed, so a request can land between
// two reads: it reads until all three agree at one quiet moment (the
// simulator's count the same before and after), and reports the last
// disagreement if they never do.
func (w *World) checkObserved(ctx context.Context, p Pipeline, accepted int64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		before := int64(w.SS.Stats().Requests)
		st, err := statusCounts(ctx, p.HookURL())
		if err != nil {
			return err
		}
		mt, err := metricsCounts(ctx, p.HookURL())
		if err != nil {
			return err
		}
		sim := int64(w.SS.Stats().Requests)
		if st == mt && st.sharpSpringRequests == sim && sim == before && st.webhookAccepted == accepted {
			w.o.Say("/status and /metrics agree with the simulators: %d SharpSpring requests, %d deliveries accepted", sim, accepted)
			return nil
		}
		last = fmt.Errorf("status (sharpspring requests %d, webhook accepted %d) and metrics (%d, %d) disagree with the simulators (%d, %d)",
			st.sharpSpringRequests, st.webhookAccepted, mt.sharpSpringRequests, mt.webhookAccepted, sim, accepted)
		select {
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}
