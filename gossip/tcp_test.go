package gossip

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"
)

// TestTCP runs a publisher and two subscribers in a line over real TCP on
// 127.0.0.1, in real time, and checks nothing is left running after Close.
func TestTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("real network and real heartbeats")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const n = 10
	var hosts []host.Host
	var svcs []*Service
	defer func() {
		for _, s := range svcs {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
		for _, h := range hosts {
			h.Close()
		}
	}()
	for range 3 {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		s, err := New(context.Background(), h, Config{})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 1; i < 3; i++ {
		a := hosts[i-1]
		if err := hosts[i].Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	tc := newTestChannel(t, "tcp")
	var chans []*Channel
	for _, s := range svcs {
		c, err := s.Join(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, c)
	}
	waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, map[int][]peer.ID{
		0: {hosts[1].ID()}, 1: {hosts[0].ID(), hosts[2].ID()}, 2: {hosts[1].ID()},
	})
	for i := range n {
		if err := chans[0].Publish(ctx, tc.chunk(uint64(i), 64<<10, time.Now()), tc.key); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range chans[1:] {
		var got []uint64
		for len(got) < n {
			ch, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			got = append(got, ch.Seq)
		}
		slices.Sort(got)
		if !slices.Equal(got, seqRange(n)) {
			t.Errorf("got %v", got)
		}
	}
}
