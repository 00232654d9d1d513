package gossip

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// uplink follows what the host hands pubsub to send and what pubsub has
// written to the streams, from the raw tracer: the bytes still waiting in
// the peers' outbound queues (the backlog) and the bytes written. A backlog
// that grows while the written rate stays flat means the uplink is full.
// The byte counts are the payloads of the RPCs, close enough to the wire.
//
// A peer whose queue holds bytes and has had none written for stallAfter
// is stalled: it vanished without closing (its connection lives on until
// the transport's idle timeout) or its path is dead. Its queue never
// drains, so it is left out of the backlog; counted, it would make every
// rule that reads the backlog (busy, overload, the sender's window) think
// the uplink full for as long as the connection lingers. The engine
// re-decides who is stalled once a tick (refreshStalls), so reading the
// backlog, which every RPC handled does, need not scan every peer.
type uplink struct {
	mu      sync.Mutex
	now     func() time.Time
	perPeer map[peer.ID]int64
	moved   map[peer.ID]time.Time // when its queue last filled from empty or was written from
	wrote   map[peer.ID]time.Time // when an RPC to it was last written; kept when its queue goes
	stalls  map[peer.ID]bool      // as of the last refreshStalls; replaced, never changed
	// inQueue holds the size of each RPC counted in a backlog until it is
	// written; early, RPCs written before pubsub traced them queued (it
	// traces SendRPC after the push: doc.go, "Sending").
	inQueue map[rpcKey]int64
	early   map[rpcKey]time.Time
	backlog int64
	written int64
}

// rpcKey names one RPC to one peer (pubsub hands the same full-message
// RPC to several).
type rpcKey struct {
	rpc *pubsub.RPC
	p   peer.ID
}

// stallAfter is how long a peer's queue may hold bytes with none written
// before the peer counts as stalled. A live peer's queue holds at most a
// few tens of KiB (the sender's window), written in well under a second
// even through a lossy connection.
const stallAfter = time.Second

func newUplink(now func() time.Time) *uplink {
	return &uplink{
		now:     now,
		perPeer: make(map[peer.ID]int64),
		moved:   make(map[peer.ID]time.Time),
		wrote:   make(map[peer.ID]time.Time),
		inQueue: make(map[rpcKey]int64),
		early:   make(map[rpcKey]time.Time),
	}
}

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

// queued counts an RPC of n bytes handed to p's queue.
func (u *uplink) queued(rpc *pubsub.RPC, p peer.ID, n int64) {
	if n == 0 {
		return
	}
	k := rpcKey{rpc, p}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.early[k]; ok {
		delete(u.early, k) // already written
		return
	}
	if u.perPeer[p] == 0 {
		u.moved[p] = u.now()
	}
	u.inQueue[k] = n
	u.perPeer[p] += n
	u.backlog += n
}

// sent counts an RPC of n bytes written to p's stream.
func (u *uplink) sent(rpc *pubsub.RPC, p peer.ID, n int64) {
	if n == 0 {
		return
	}
	k := rpcKey{rpc, p}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	u.written += n
	u.wrote[p] = now
	if _, ok := u.perPeer[p]; ok {
		u.moved[p] = now
	}
	q, ok := u.inQueue[k]
	if !ok {
		u.early[k] = u.now()
		return
	}
	delete(u.inQueue, k)
	u.perPeer[p] -= q
	u.backlog -= q
}

// wroteKeep is how long refreshStalls keeps a peer's last write.
const wroteKeep = 10 * time.Second

// wroteSince reports whether an RPC to p was written at or after t: the
// transport only writes what the peer's acknowledgements make room for.
func (u *uplink) wroteSince(p peer.ID, t time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	w, ok := u.wrote[p]
	return ok && !w.Before(t)
}

// gone forgets a peer's queue: what was in it will never be written.
func (u *uplink) gone(p peer.ID) {
	u.mu.Lock()
	u.backlog -= u.perPeer[p]
	delete(u.perPeer, p)
	delete(u.moved, p)
	for k := range u.inQueue {
		if k.p == p {
			delete(u.inQueue, k)
		}
	}
	u.mu.Unlock()
}

// state returns the backlog of the peers that are not stalled and the
// bytes written since the start.
func (u *uplink) state() (backlog, written int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	backlog = u.backlog
	for p := range u.stalls {
		backlog -= u.perPeer[p]
	}
	return backlog, u.written
}

// refreshStalls decides which peers are stalled now, its queue holding
// bytes with none written for stallAfter, and returns them (nil if none).
// The map is shared: the caller must not change it.
func (u *uplink) refreshStalls() map[peer.ID]bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	for k, at := range u.early {
		// Written after its queue was gone (the writer was mid-write),
		// so never traced queued: forget it.
		if now.Sub(at) > stallAfter {
			delete(u.early, k)
		}
	}
	for p, at := range u.wrote {
		// Only a write since a stall counts (wroteSince), and stalls are
		// refreshed every heartbeat: older writes need not be kept.
		if now.Sub(at) > wroteKeep {
			delete(u.wrote, p)
		}
	}
	var stalls map[peer.ID]bool
	for p, n := range u.perPeer {
		if n > 0 && now.Sub(u.moved[p]) > stallAfter {
			if stalls == nil {
				stalls = make(map[peer.ID]bool)
			}
			stalls[p] = true
		}
	}
	u.stalls = stalls
	return stalls
}

// peerBacklog returns the bytes queued for p and not yet written.
func (u *uplink) peerBacklog(p peer.ID) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.perPeer[p]
}
