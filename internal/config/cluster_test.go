package config

import (
	"strings"
	"testing"
)

// A NATS cluster runs the stream with replicas, and an instance names
// several of the cluster's servers so that it starts while one is down.
func TestStreamReplicasAndClusterURLs(t *testing.T) {
	const base = `
sharpspring: {account_id: "1", secret_key: k}
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`
	for _, tc := range []struct {
		name, bus    string
		wantReplicas int
		wantErr      string
	}{
		{name: "default is one replica", bus: `{}`, wantReplicas: 1},
		{name: "three on a cluster", bus: `{nats: {url: "nats://n1:4222", replicas: 3}}`, wantReplicas: 3},
		{name: "five at most", bus: `{nats: {url: "nats://n1:4222", replicas: 5}}`, wantReplicas: 5},
		{name: "one on the embedded server", bus: `{nats: {replicas: 1}}`, wantReplicas: 1},
		{name: "a list of the cluster's servers", bus: `{nats: {url: "nats://n1:4222, nats://n2:4222,nats://n3:4222", replicas: 3}}`, wantReplicas: 3},
		{name: "six", bus: `{nats: {url: "nats://n1:4222", replicas: 6}}`, wantErr: "bus.nats.replicas: 6 is outside 1..5"},
		{name: "negative", bus: `{nats: {url: "nats://n1:4222", replicas: -1}}`, wantErr: "bus.nats.replicas: -1 is outside 1..5"},
		{name: "three on the embedded server", bus: `{nats: {replicas: 3}}`, wantErr: "bus.nats.replicas: 3 needs a NATS cluster (bus.nats.url)"},
		{name: "a list with a bad entry", bus: `{nats: {url: "nats://n1:4222,n2"}}`, wantErr: `bus.nats.url: "nats://n1:4222,n2" is not a URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("bus: "+tc.bus+base), env(nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Bus.NATS.Replicas != tc.wantReplicas {
				t.Fatalf("bus.nats.replicas = %d, want %d", c.Bus.NATS.Replicas, tc.wantReplicas)
			}
		})
	}
}
