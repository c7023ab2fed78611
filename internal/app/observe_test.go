package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// metric returns the value of one sample line of the Prometheus text format.
func metric(t *testing.T, body, name string, labels ...string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no sample %s%v in:\n%s", name, labels, body)
	return 0
}

func TestStatusAndMetricsAgreeWithTheSimulator(t *testing.T) {
	h := newHarness(t, harnessOptions{linger: 50 * time.Millisecond})
	h.start()
	for i := 0; i < 30; i++ {
		h.deliver(int64(i), leadFields(i))
	}
	h.settle(30)
	for i := 0; i < 5; i++ {
		f := leadFields(i)
		f["City"] = "Tulsa"
		h.deliver(int64(i), f)
	}
	h.deliver(0, leadFields(0)) // back to the original: a real change
	h.settle(36)
	base := "http://" + h.app.Addr()
	sim := h.sim.Stats()

	var st Status
	if err := json.Unmarshal([]byte(get(t, base+"/status")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Routes) != 1 || st.Routes[0].Events != 36 || st.Routes[0].Backlog != 0 || st.Routes[0].DeadLetters != 0 {
		t.Fatalf("status routes = %+v", st.Routes)
	}
	if len(st.Quota) != 1 || st.Quota[0].Used != sim.Requests {
		t.Fatalf("status quota %+v, simulator counted %d requests", st.Quota, sim.Requests)
	}
	if st.Webhook == nil || st.Webhook.Accepted != 36 {
		t.Fatalf("status webhook = %+v", st.Webhook)
	}
	if len(st.Rate) != 1 || st.Rate[0].Account != "sharpspring:"+testAccount || st.Rate[0].InFlight != 0 || st.Rate[0].WaitedSeconds <= 0 {
		t.Fatalf("status rate = %+v, want the SharpSpring account's, nothing in flight once settled", st.Rate)
	}

	m := get(t, base+"/metrics")
	for method, n := range sim.ByMethod {
		if got := metric(t, m, "crmsync_vendor_requests_total", `method="`+method+`"`, `vendor="sharpspring"`); got != float64(n) {
			t.Errorf("requests %s: metrics %v, simulator %d", method, got, n)
		}
	}
	if got := metric(t, m, "crmsync_quota_used"); got != float64(sim.Requests) {
		t.Errorf("quota used: metrics %v, simulator %d", got, sim.Requests)
	}
	if got := metric(t, m, "crmsync_requests_in_flight"); got != 0 {
		t.Errorf("requests in flight once settled: %v", got)
	}
	if got := metric(t, m, "crmsync_rate_wait_seconds_total"); got < st.Rate[0].WaitedSeconds {
		t.Errorf("rate wait: metrics %v, less than /status said before (%v)", got, st.Rate[0].WaitedSeconds)
	}
	if got := metric(t, m, "crmsync_route_events_total", `route="le-ss"`); got != 36 {
		t.Errorf("events = %v", got)
	}
	upserts := metric(t, m, "crmsync_route_upserts_total", `route="le-ss"`)
	if want := float64(sim.ObjectsWritten); upserts != want {
		t.Errorf("upserts: metrics %v, simulator wrote %v objects", upserts, want)
	}
	if got := metric(t, m, "crmsync_webhook_deliveries_total", `outcome="accepted"`); got != 36 {
		t.Errorf("webhook accepted = %v", got)
	}
	if !regexp.MustCompile(`(?m)^crmsync_route_lag_seconds\{route="le-ss"\} 0$`).MatchString(m) {
		t.Errorf("lag is not 0 when caught up:\n%s", m)
	}
	if strings.Contains(m, testSecret) || strings.Contains(fmt.Sprint(st), testSecret) {
		t.Fatal("secret in metrics or status")
	}
}
