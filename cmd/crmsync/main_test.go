package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGCKeepsWhatTheEnvironmentSets(t *testing.T) {
	old, had := os.LookupEnv("GOGC")
	t.Cleanup(func() {
		if had {
			os.Setenv("GOGC", old)
		} else {
			os.Unsetenv("GOGC")
		}
	})
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(77); got != gcPercent {
		t.Errorf("GOGC unset: collector at %d%%, want %d%%", got, gcPercent)
	}
	os.Setenv("GOGC", "77") // as the runtime read it at start
	tuneGC()
	if got := debug.SetGCPercent(100); got != 77 {
		t.Errorf("GOGC=77: collector at %d%%, want 77%%", got)
	}
}
