package api

import (
	"time"

	"github.com/p2ptv/p2ptvd/node"
)

// Status is the node's state.
type Status struct {
	Peer      string      `json:"peer"`
	Role      string      `json:"role"` // daemon or bootstrap
	Version   string      `json:"version"`
	Addrs     []string    `json:"addrs"` // with /p2p/<id>: hand them out
	Started   time.Time   `json:"started"`
	Uptime    float64     `json:"uptime_seconds"`
	Peers     int         `json:"peers"`
	DHTPeers  int         `json:"dht_peers"`
	Channels  int         `json:"channels"`
	Reach     node.Reach  `json:"reach"`
	Limits    node.Limits `json:"limits"`
	Bandwidth Bandwidth   `json:"bandwidth"`
}

// Bandwidth is the node's traffic, all protocols.
type Bandwidth struct {
	TotalIn  int64   `json:"total_in_bytes"`
	TotalOut int64   `json:"total_out_bytes"`
	RateIn   float64 `json:"rate_in_bytes_per_second"`
	RateOut  float64 `json:"rate_out_bytes_per_second"`
	// Gossip is the chunk mesh's share (gossipsub streams).
	GossipRateIn  float64 `json:"gossip_rate_in_bytes_per_second"`
	GossipRateOut float64 `json:"gossip_rate_out_bytes_per_second"`
}

// Channel is one channel's state.
type Channel struct {
	Channel string    `json:"channel"` // /channel/<cid>
	Name    string    `json:"name,omitempty"`
	Role    string    `json:"role"`  // broadcast, view
	State   string    `json:"state"` // joining, waiting, playing, ended, failed
	Error   string    `json:"error,omitempty"`
	Stream  string    `json:"stream,omitempty"` // URL for a player
	Created time.Time `json:"created,omitzero"`
	Peers   int       `json:"peers"`
	Buffer  Buffer    `json:"buffer"`
	Mesh    Mesh      `json:"mesh"`
}

// Buffer is the channel's playout buffer.
type Buffer struct {
	Started    bool    `json:"started"`
	Level      int     `json:"level_chunks"`
	LevelBytes int     `json:"level_bytes"`
	Delay      float64 `json:"delay_seconds"`
	Continuity float64 `json:"continuity"`
	Startup    float64 `json:"startup_seconds"`
	Played     uint64  `json:"played"`
	Skipped    uint64  `json:"skipped"`
	Late       uint64  `json:"late"`
	Stalls     uint64  `json:"stalls"`
	Players    int     `json:"players"`
}

// Mesh is the channel's gossip counters and rates.
type Mesh struct {
	Received  uint64            `json:"received"`
	Published uint64            `json:"published"`
	Rejected  map[string]uint64 `json:"rejected,omitempty"`
	Drops     uint64            `json:"drops"`
	// Parts of chunks (8 KiB) received and sent to other viewers, and the
	// upload: subscriptions the budget affords (slots) and peers served.
	PartsReceived uint64 `json:"parts_received"`
	PartsSent     uint64 `json:"parts_sent"`
	Slots         int    `json:"upload_slots"`
	Children      int    `json:"children"`
	// Rates over up to the last minute: chunks in (validated), chunks
	// published (a broadcast), parts sent to others.
	InRate       float64 `json:"in_chunks_per_second"`
	OutRate      float64 `json:"published_chunks_per_second"`
	PartsOutRate float64 `json:"out_parts_per_second"`
}

// Peer is a connected peer.
type Peer struct {
	ID       string   `json:"id"`
	Addrs    []string `json:"addrs"`
	Limited  bool     `json:"limited"` // every connection runs over a relay
	Inbound  bool     `json:"inbound"`
	Latency  float64  `json:"latency_ms,omitempty"`
	Channels []string `json:"channels,omitempty"` // channels shared with it
}

// JoinRequest is the body of POST /api/v1/channels.
type JoinRequest struct {
	Channel string `json:"channel"`
	// Timeout bounds finding and joining the channel (Go duration, default
	// 60s, at most 5m).
	Timeout string `json:"timeout,omitempty"`
}

// Error is an API error: the HTTP status and the message.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Message }
