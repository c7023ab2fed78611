package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"
)

// httpFloor measures what the same form posts cost with nothing behind
// them: the e2e load's senders posting to a handler that parses the form
// and answers 200. It is the CPU no webhook-fed pipeline on this machine
// can go below, and puts the e2e figures in proportion.
func httpFloor(ctx context.Context, posts, senders int) (cpuPerPost time.Duration, rate float64, err error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	start, cpu := time.Now(), processCPU()
	err = inParallel(ctx, posts, senders, func(ctx context.Context, i int) error {
		v := url.Values{"LeadUID": {fmt.Sprint(i)}}
		for k, x := range leadFields(i) {
			v.Set(k, x)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("leadexec", "password")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return (processCPU() - cpu) / time.Duration(posts), float64(posts) / time.Since(start).Seconds(), nil
}
