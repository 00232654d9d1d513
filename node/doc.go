// Package node is the composition root of p2ptvd: it builds the libp2p host
// and wires the DHT, the gossip mesh, the media source and the playout
// buffer into the operations people use: Broadcast, Join, Leave, and an HTTP
// handler that serves each channel to players.
//
// # Data path
//
// A broadcast reads MPEG-TS from an io.Reader through media.Source, which
// cuts chunks at random-access points; each chunk is signed with the node's
// Ed25519 key (the channel owner key), published into the channel's gossip
// topic, and pushed into the broadcaster's own playout buffer so it can be
// watched locally too. The channel's manifest is served over the manifest
// protocol and its CID provided in the DHT (re-provided while live).
//
// A join looks up the channel's providers in the DHT, connects to several
// of them in parallel, fetches the manifest from one and verifies it against
// the CID, joins the gossip topic, and pushes every validated chunk into a
// playout buffer. As soon as the buffer has started (a random-access chunk
// has arrived) the viewer provides the channel as well, so later joiners
// find relays, not only the source.
//
// # A broadcaster's connections
//
// Every connection costs the source a handshake, identify and the mesh's
// control traffic, whether or not the peer ever gets a part from it, and
// at a launch every joiner dials the only provider there is. With
// Config.SourcePeers set, while a node broadcasts its resource manager
// (Gate) refuses inbound connections past that many before their
// handshake: over TCP as the connection is accepted, over QUIC at the
// client's first packet. A refused joiner goes on to the other providers
// its DHT lookup found (viewers provide once they play) and to the peers
// they introduce. Outbound and relayed connections are neither counted nor
// refused. There is no bound by default: under churn it cost viewers more
// than it saved the source (docs/PERFORMANCE.md).
//
// # State on disk
//
// The home directory (0700) holds identity.key: the node's libp2p Ed25519
// private key (protobuf-marshalled, 0600, written atomically). The same key
// signs the chunks of the channels the node broadcasts. With
// Config.Remember it also holds channels.json, {"channels": ["/channel/<cid>",
// ...]}: the channels joined and not left, which Resume rejoins after a
// restart (written atomically on every Join and Leave; Close keeps it).
//
// # Reaching a node behind NAT
//
// A host New builds can ask the router for a port mapping (UPnP, NAT-PMP),
// hole-punch (DCUtR), reserve a slot on circuit relays while AutoNAT says
// it is unreachable, and serve as a relay and AutoNAT server for others
// (operators' nodes). The DHT in auto mode answers queries only while the
// node is publicly reachable. Relayed connections are limited (2 min, 128
// KiB) and gossipsub never sends over them: they only let a hole punch
// start, so the video mesh runs over direct connections. A node nobody can
// reach still dials out to reachable ones and is fed by them. Reach reports
// which of these worked; it follows the host's event bus.
//
// # HTTP
//
//	GET /channel/<cid>.ts   progressive MPEG-TS (video/mp2t) of a joined channel,
//	                        starting at PAT+PMT and the latest keyframe held
//	GET /                   JSON list of the node's channels
//
// # Goroutines
//
// Per node: one goroutine follows the host's reachability events until
// Close, and Resume starts one per remembered channel until it is rejoined,
// left, or the node closes (Close waits for them).
//
// Per channel: the playout buffer's Run loop, and either the broadcast pump
// (source → mesh and buffer) or the receive pump (mesh → buffer). They stop
// when the channel is closed (Channel.Close, Node.Leave or Node.Close) and
// Close waits for them. HTTP handlers run on the caller's server.
package node
