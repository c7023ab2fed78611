package simkit

import (
	"io"
	"net/http"
	"sync"
	"testing"
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
