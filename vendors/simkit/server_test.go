package simkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestServeAnswersUntilStopAndHangUpSendsNothing(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/drop" {
			HangUp(w)
			return
		}
		Reply(w, http.StatusTeapot, ContentJSON, []byte(`{"ok":true}`))
	})
	base, stop, err := Serve(h, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("Content-Type") != ContentJSON || string(body) != `{"ok":true}` {
		t.Errorf("got %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, err := http.Get(base + "/drop"); err == nil {
		resp.Body.Close()
		t.Errorf("a hung-up request got %d", resp.StatusCode)
	}
	stop()
	if resp, err := http.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Error("answered after stop")
	}
}

func TestLogKeepsTheLastMaxLogEntries(t *testing.T) {
	var l Log[int]
	for i := range MaxLog + 5 {
		l.Add(i)
	}
	got := l.Entries()
	if len(got) != MaxLog || got[0] != 5 || got[len(got)-1] != MaxLog+4 {
		t.Fatalf("len %d first %d last %d", len(got), got[0], got[len(got)-1])
	}
	got[0] = -1
	if l.Entries()[0] != 5 {
		t.Error("Entries shares its slice")
	}
	l.Reset()
	if len(l.Entries()) != 0 {
		t.Error("Reset kept entries")
	}
}

func TestResetStatsClearsCountersLogAndFaultCountsButNotScripts(t *testing.T) {
	var mu sync.Mutex
	var l Log[int]
	l.Add(1)
	in := NewInjector[fault](1)
	in.Count("http500")
	in.Script("k", f503)
	resets := 0
	ResetStats(&mu, func() {
		if mu.TryLock() {
			t.Error("reset ran without the lock held")
			mu.Unlock()
		}
		resets++
	}, &l, in)
	if resets != 1 || len(l.Entries()) != 0 || len(in.Counts()) != 0 {
		t.Errorf("resets %d, log %v, counts %v", resets, l.Entries(), in.Counts())
	}
	if d := in.Next("k"); d.Fault != f503 {
		t.Errorf("script lost: %v", d.Fault)
	}
	if !mu.TryLock() {
		t.Error("lock still held")
	}
}

func TestReadBodyAnswersTooLargeOnlyForABodyOverTheLimit(t *testing.T) {
	for body, over := range map[string]bool{"12345": false, "123456": true} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		tooLarge := false
		got, ok := ReadBody(httptest.NewRecorder(), r, 5, func() { tooLarge = true })
		if ok == over || tooLarge != over || (ok && string(got) != body) {
			t.Errorf("body %q: got %q, ok %v, tooLarge %v", body, got, ok, tooLarge)
		}
	}
}

func TestAdmitAndUnansweredLogBeforeAbandoning(t *testing.T) {
	in := NewInjector[fault](1)
	var logged atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := Decision[fault]{Fault: f500, Latency: time.Hour, Hold: time.Millisecond}
		if r.URL.Path == "/hold" {
			d.Latency = 0
			if !in.Admit(w, r, d, func() { t.Error("an admitted request was logged as abandoned") }) {
				return
			}
			in.Unanswered(w, r, d, func() { logged.Add(1) })
			return
		}
		if in.Admit(w, r, d, func() { logged.Add(1) }) {
			t.Error("a request released by Close was admitted")
		}
	})
	base, stop, err := Serve(h, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if resp, err := http.Get(base + "/hold"); err == nil {
		resp.Body.Close()
		t.Errorf("a held request got %d", resp.StatusCode)
	}
	in.Close()
	if resp, err := http.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("a delayed request got %d after Close", resp.StatusCode)
	}
	if logged.Load() != 2 || in.Counts()["http500"] != 1 || in.Counts()[LatencyKey] != 1 {
		t.Errorf("logged %d, counts %v", logged.Load(), in.Counts())
	}
}
