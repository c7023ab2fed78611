package connector

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
)

func TestEveryBuiltInVendorButLeadExecIsAConnector(t *testing.T) {
	var names []string
	for _, c := range All() {
		names = append(names, c.Name)
	}
	for _, want := range []string{"getlead", "ivvy", "kafka", "sharpspring"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not registered (registered: %v)", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("All is not sorted by name: %v", names)
	}
}

func TestAMissingSectionOpensNothing(t *testing.T) {
	// No vendor section at all: a typed nil section must not reach Open.
	cfg := &config.Config{}
	opened, err := OpenAll(context.Background(), Env{Config: cfg, State: testenv.State(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 0 {
		t.Fatalf("opened %v without any section", opened)
	}
}

func TestRegisteringWithoutOpenPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a connector without Open was registered")
		}
	}()
	Register(Connector{Vendor: config.Vendor{Name: "noopen"}})
}
