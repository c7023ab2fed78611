package registry

import (
	"slices"
	"testing"
)

func TestANameIsTakenOnceAndAllListsByName(t *testing.T) {
	var r Of[int]
	if _, ok := r.Get("b"); ok || len(r.All()) != 0 {
		t.Fatal("a zero registry holds something")
	}
	for i, name := range []string{"b", "c", "a"} {
		if !r.Add(name, i) {
			t.Fatalf("%s was taken", name)
		}
	}
	if r.Add("b", 9) {
		t.Fatal("b was added twice")
	}
	if v, ok := r.Get("b"); !ok || v != 0 {
		t.Fatalf("b = %d, %v; want the first value, 0", v, ok)
	}
	if got := r.All(); !slices.Equal(got, []int{2, 0, 1}) {
		t.Fatalf("All = %v, want the values of a, b, c", got)
	}
}
