package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/gossip"
)

// TestRogueChangesNothing: a node joins the channel's topic with a plain
// gossipsub (no validator), connects to the broadcaster and to every
// viewer, and floods them with chunks for seqs the broadcaster has not
// reached yet signed with its own key, garbage, and validly signed chunks
// of another channel. Every viewer must still play exactly the broadcast,
// and the rogue must end up rejected: blacklisted and disconnected by every
// node it sent enough invalid chunks to.
func TestRogueChangesNothing(t *testing.T) {
	var rogueID peer.ID
	var sent int
	sc := runChannel(t, 6, 10, func(ctx context.Context, sc *scenario) {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
		if err != nil {
			t.Error(err)
			return
		}
		defer h.Close()
		rogueID = h.ID()
		ps, err := pubsub.NewGossipSub(ctx, h,
			pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
			pubsub.WithFloodPublish(true), // to every topic peer, mesh or not
			pubsub.WithMessageIdFn(func(m *pb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }))
		if err != nil {
			t.Error(err)
			return
		}
		topic, err := ps.Join(gossip.TopicName(sc.ch.ID()))
		if err != nil {
			t.Error(err)
			return
		}
		sub, err := topic.Subscribe()
		if err != nil {
			t.Error(err)
			return
		}
		defer sub.Cancel()
		for _, n := range append([]*viewerRun{{node: sc.caster}}, sc.viewers...) {
			h.Connect(ctx, peer.AddrInfo{ID: n.node.ID(), Addrs: n.node.Host().Addrs()})
		}
		_, rogueKey, _ := ed25519.GenerateKey(nil)
		other := otherChannel(t)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			next := sc.ch.Stats().Gossip.HighestSeq + 1
			forged := p2ptvd.Chunk{Channel: sc.ch.ID(), Seq: next + uint64(i%3), Timestamp: time.Now(),
				Duration: 500 * time.Millisecond, Flags: p2ptvd.RandomAccess, Payload: make([]byte, 188*40)}
			var msgs [][]byte
			if b, err := gossip.Encode(forged, rogueKey); err == nil {
				msgs = append(msgs, b)
			}
			msgs = append(msgs, []byte(fmt.Sprintf("P2TV garbage %d", i)))
			forged.Channel = other
			if b, err := gossip.Encode(forged, rogueKey); err == nil {
				msgs = append(msgs, b)
			}
			for _, m := range msgs {
				if topic.Publish(ctx, m) == nil {
					sent++
				}
			}
		}
	})
	if sent == 0 {
		t.Fatal("the rogue published nothing")
	}
	var rejected, blacklisted int
	for _, n := range append([]*viewerRun{{node: sc.caster}}, sc.viewers...) {
		st := n.node.GossipStats()
		var r uint64
		for _, c := range st.Rejected {
			r += c
		}
		if r == 0 {
			continue
		}
		rejected++
		if r >= 3 {
			if !n.node.Blacklisted(rogueID) {
				t.Errorf("node %s rejected %d chunks (%v) but did not blacklist the rogue", n.node.ID().ShortString(), r, st.Rejected)
			}
			if n.node.Host().Network().Connectedness(rogueID) == network.Connected {
				t.Errorf("node %s is still connected to the rogue", n.node.ID().ShortString())
			}
			blacklisted++
		}
	}
	if rejected == 0 {
		t.Fatalf("no node saw the rogue's %d messages", sent)
	}
	t.Logf("the rogue published %d messages; %d nodes rejected some, %d blacklisted it", sent, rejected, blacklisted)
}

// otherChannel is the ID of a channel the rogue made up.
func otherChannel(t *testing.T) p2ptvd.ChannelID {
	pub, _, _ := ed25519.GenerateKey(nil)
	id, err := p2ptvd.Manifest{Owner: pub, Name: "rogue", Created: time.Now()}.ID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
