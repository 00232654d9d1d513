package metrics

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/p2ptv/p2ptvd/media"
	"github.com/p2ptv/p2ptvd/node"
)

func TestRegister(t *testing.T) {
	n, err := node.New(node.Config{Home: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := n.Broadcast(ctx, bytes.NewReader(media.DemoClip()), node.BroadcastOptions{Name: "m", Pace: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, n, "v1.2.3", "daemon"); err != nil {
		t.Fatal(err)
	}
	// A second registration in the same registry is refused, not a panic.
	if err := Register(reg, n, "v1.2.3", "daemon"); err == nil {
		t.Error("registering twice succeeded")
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()] = strings.Join(labels, ",")
		}
	}
	for _, name := range []string{
		"p2ptvd_build_info", "p2ptvd_peers", "p2ptvd_reachability", "p2ptvd_dht_server",
		"p2ptvd_bytes_total", "p2ptvd_gossip_accepted_total", "p2ptvd_gossip_slow_reader_drops_total",
		"p2ptvd_channel_continuity", "p2ptvd_channel_delay_seconds", "p2ptvd_channel_buffer_chunks",
		"p2ptvd_channel_chunks_skipped_total", "p2ptvd_channel_chunks_dropped_total", "go_goroutines",
	} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	if l := got["p2ptvd_build_info"]; !strings.Contains(l, "version=v1.2.3") || !strings.Contains(l, "role=daemon") {
		t.Errorf("build info labels %q", l)
	}
	if l := got["p2ptvd_channel_peers"]; !strings.Contains(l, "channel="+ch.ID().String()) || !strings.Contains(l, "role=broadcast") {
		t.Errorf("channel labels %q", l)
	}
}
