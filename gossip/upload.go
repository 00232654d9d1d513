package gossip

import (
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// uplink follows what the host hands pubsub to send and what pubsub has
// written to the streams, from the raw tracer: the bytes still waiting in
// the peers' outbound queues (the backlog) and the bytes written. A backlog
// that grows while the written rate stays flat means the uplink is full.
// The byte counts are the payloads of the RPCs, close enough to the wire.
type uplink struct {
	mu      sync.Mutex
	perPeer map[peer.ID]int64
	backlog int64
	written int64
}

func newUplink() *uplink { return &uplink{perPeer: make(map[peer.ID]int64)} }

// rpcSize estimates the bytes an RPC puts on the wire, without marshalling.
func rpcSize(rpc *pubsub.RPC) int64 {
	var n int64
	if pm := rpc.GetPartial(); pm != nil {
		n += int64(len(pm.GetPartialMessage()) + len(pm.GetPartsMetadata()) + len(pm.GetGroupID()) + len(pm.GetTopicID()) + 12)
	}
	for _, m := range rpc.GetPublish() {
		n += int64(len(m.GetData()) + len(m.GetTopic()) + 16)
	}
	return n
}

func (u *uplink) queued(p peer.ID, n int64) {
	if n == 0 {
		return
	}
	u.mu.Lock()
	u.perPeer[p] += n
	u.backlog += n
	u.mu.Unlock()
}

func (u *uplink) sent(p peer.ID, n int64) {
	if n == 0 {
		return
	}
	u.mu.Lock()
	u.written += n
	if q, ok := u.perPeer[p]; ok {
		n = min(n, q)
		u.perPeer[p] = q - n
		u.backlog -= n
	}
	u.mu.Unlock()
}

// gone forgets a peer's queue: what was in it will never be written.
func (u *uplink) gone(p peer.ID) {
	u.mu.Lock()
	u.backlog -= u.perPeer[p]
	delete(u.perPeer, p)
	u.mu.Unlock()
}

// state returns the total backlog and the bytes written since the start.
func (u *uplink) state() (backlog, written int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.backlog, u.written
}

// peerBacklog returns the bytes queued for p and not yet written.
func (u *uplink) peerBacklog(p peer.ID) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.perPeer[p]
}
