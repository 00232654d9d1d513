package gossip

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestTracerCounts drives the raw tracer as pubsub would and reads the
// counters back through Stats.
func TestTracerCounts(t *testing.T) {
	topic := "/p2ptv/1/x"
	tr := newTracer()
	var chans sync.Map
	c := &Channel{}
	chans.Store(topic, c)
	tr.channels = &chans
	s := &Service{trace: tr, black: newBlacklist(time.Now, time.Hour), up: newUplink(time.Now)}
	tr.up = s.up

	msg := &pubsub.Message{Message: &pb.Message{Topic: &topic}}
	other := "/other"
	foreign := &pubsub.Message{Message: &pb.Message{Topic: &other}}
	two := &pubsub.RPC{RPC: pb.RPC{Publish: []*pb.Message{msg.Message, msg.Message}}}
	control := &pubsub.RPC{}

	tr.DropRPC(two, "p")     // an outbound queue was full
	tr.DropRPC(control, "p") // a control-only RPC
	tr.SendRPC(two, "p")     // two chunk copies queued
	tr.SendRPC(control, "p") // no chunk
	tr.UndeliverableMessage(msg)
	tr.UndeliverableMessage(foreign)
	tr.RejectMessage(msg, pubsub.RejectValidationQueueFull)
	tr.RejectMessage(msg, pubsub.RejectValidationQueueFull)
	tr.RejectMessage(msg, pubsub.RejectBlacklstedPeer)
	tr.DuplicateMessage(msg)
	// A partial RPC of 10+2+24+len(topic)+12 bytes, queued and written,
	// and the two chunk copies, 2×(len(topic)+16), still queued.
	partial := &pubsub.RPC{RPC: pb.RPC{Partial: &pb.PartialMessagesExtension{
		TopicID: &topic, GroupID: make([]byte, 24), PartialMessage: make([]byte, 10), PartsMetadata: make([]byte, 2)}}}
	tr.SendRPC(partial, "q")
	tr.SendRPCCompleted(partial, "q", time.Millisecond)
	chunks := int64(2 * (len(topic) + 16))
	// Received, it counts as encoded: each field a tag and a length byte
	// before its bytes, and the extension itself (field 10) the same.
	tr.RecvRPC(partial)
	received := uint64(2 + (2 + len(topic)) + (2 + 24) + (2 + 10) + (2 + 2))

	got := s.Stats()
	want := Stats{
		DroppedRPCs: 2, DroppedChunks: 2, Sent: 2, SlowReaderDrops: 2, Duplicates: 1,
		PartialRPCs: 1, QueuedBytes: chunks + int64(10+2+24+len(topic)+12), Backlog: chunks,
		ReceivedBytes: received,
		RouterRejects: map[string]uint64{pubsub.RejectValidationQueueFull: 2, pubsub.RejectBlacklstedPeer: 1},
		Rejected:      map[string]uint64{},
	}
	if !maps.Equal(got.RouterRejects, want.RouterRejects) || !maps.Equal(got.Rejected, want.Rejected) {
		t.Errorf("reasons %v, %v; want %v, %v", got.RouterRejects, got.Rejected, want.RouterRejects, want.Rejected)
	}
	got.RouterRejects, got.Rejected, want.RouterRejects, want.Rejected = nil, nil, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	tr.OnClosedOutboundStream("p")
	if got := s.Stats().Backlog; got != 0 {
		t.Errorf("backlog after the peer's stream closed = %d, want 0", got)
	}
	if c.subDrops.Load() != 1 {
		t.Errorf("channel subscription drops = %d, want 1 (the other topic is not ours)", c.subDrops.Load())
	}
}

func TestBlacklistExpires(t *testing.T) {
	now := time.Unix(1700000000, 0)
	b := newBlacklist(func() time.Time { return now }, time.Hour)
	p := peer.ID("rogue")
	if b.Contains(p) {
		t.Fatal("empty blacklist contains a peer")
	}
	b.Add(p)
	now = now.Add(59 * time.Minute)
	if !b.Contains(p) || b.len() != 1 {
		t.Fatal("peer left the blacklist early")
	}
	now = now.Add(time.Minute)
	if b.Contains(p) || b.len() != 0 {
		t.Fatal("peer still blacklisted after an hour")
	}
}
