// Package conformance is what crmsync's conformance suites (pipeline/bustest,
// pipeline/sinktest, pipeline/sourcetest) share: the optional guarantees a
// part under test claims or gives up, and the running of a suite's tests.
package conformance

import "testing"

// Flag is one optional guarantee of a suite. The zero Flag claims it;
// Without gives it up and says why, so no part lacks one silently.
type Flag struct{ without string }

// Without is a Flag the part under test does not meet, for the given reason
// (which must not be empty); suite names the suite in the panic otherwise.
func Without(suite, reason string) Flag {
	if reason == "" {
		panic(suite + ".Without: a flag that is off needs its reason")
	}
	return Flag{without: reason}
}

// Claimed reports whether the part gives the guarantee.
func (f Flag) Claimed() bool { return f.without == "" }

// Reason is why the part does not give the guarantee ("" when it does).
func (f Flag) Reason() string { return f.without }

// Require skips t unless f is claimed; name is the guarantee's.
func (f Flag) Require(t testing.TB, name string) {
	t.Helper()
	if !f.Claimed() {
		t.Skipf("%s: %s", name, f.without)
	}
}

// Test is one test of a suite, run with the suite's factory F.
type Test[F any] struct {
	Name string
	Run  func(t *testing.T, f F)
}

// Run runs tests as subtests of t, each with f.
func Run[F any](t *testing.T, f F, tests []Test[F]) {
	for _, tc := range tests {
		t.Run(tc.Name, func(t *testing.T) { tc.Run(t, f) })
	}
}
