// Package dht finds channels without a tracker. It owns the Kademlia DHT
// (go-libp2p-kad-dht) of a p2ptvd node: bootstrapping into it, announcing
// the channels the node can serve as provider records and renewing them
// while the channel is live, looking providers up and dialling them, and the
// small protocol that fetches a channel's manifest from any node that has
// it.
//
// # Keys and network
//
// The DHT key of a channel is its channel ID: a CIDv1 (raw, sha2-256) of the
// manifest's bytes. kad-dht keys provider records by the CID's multihash,
// so the record lives on the DHT servers whose peer IDs are XOR-closest to
// sha256(multihash).
//
// The kad protocol is <prefix>/kad/1.0.0 with the prefix "/p2ptv" by
// default: a private network of our own, seeded by bootstrap nodes that run
// in server mode (`p2ptvd bootstrap`). kad-dht enforces its Amino rules
// (bucket size 20, value store with /pk and /ipns validators) only for the
// "/ipfs" prefix, so a custom prefix needs no extra options; we disable the
// value store off Amino because provider records are all we use. Setting
// the prefix to "/ipfs" (with public bootstrap peers) joins the Amino DHT
// instead and keeps the value store that Amino requires.
//
// No address, query or routing-table filter is set, and kad-dht's defaults
// have none (only its dual/Amino setups filter): loopback and LAN addresses
// stay in provider records and peers, which the tests on 127.0.0.1 and
// viewers on one LAN need. Kademlia parameters stay at kad-dht's defaults
// (k=20, alpha=10, beta=3): lookups in a small network already finish in
// tens of milliseconds, and smaller values only hurt in a large one.
//
// # Modes
//
// ModeServer answers queries and stores records (bootstrap nodes and
// operators' nodes). ModeClient only asks. ModeAuto, the default, starts as
// a client and follows AutoNAT: a server while publicly reachable, a client
// otherwise, so a node behind NAT never becomes a useless routing-table
// entry. On loopback an auto node stays a client; that is fine because
// records are stored on the servers. Clients are never in anyone's routing
// table (kad-dht adds a peer only after identify shows it speaks our kad
// protocol and it answered a FIND_NODE), so a finished h.Connect to a
// bootstrap peer does not yet make the table usable: Bootstrap, Provide,
// FindProviders and Connect wait until the table holds a peer.
//
// # Bootstrap
//
// Bootstrap dials every configured bootstrap peer at once, each for at most
// DialTimeout. If none connects, or none joins the routing table within a
// few seconds (not a server of our kad protocol), it logs
// "bootstrap peer unreachable, retrying in Xs" and tries again after 1 s,
// 2 s, 4 s ... up to 30 s, until its context ends. Once the table holds a
// peer it starts a refresh to fill the table further. The bootstrap peers
// are also given to kad-dht, which redials them by itself whenever its
// routing table runs empty (checked every 2 minutes).
//
// # Provide and re-provide
//
// Provide stores a provider record carrying the host's addresses on the k
// servers closest to the key, and first in the node's own store: a server
// answers lookups from it, so a lone bootstrap node that broadcasts is
// found even before another server exists to hold its record. A record lives
// 48 h on a server and cannot be withdrawn, so every provider record of a
// viewer that has left is stale until then: Connect dials providers several
// at once (8) and each for at most DialTimeout (5 s). StartProviding runs one
// goroutine per channel, shared by all its callers, that provides at once
// and then every ReprovideInterval (30 min), well inside the record's life
// and soon enough for servers that joined in between to learn of the
// channel. A failed provide (no DHT peer, lookup timeout after 1 min) is
// logged and retried after 1 s, 2 s, 4 s ... up to 5 min. kad-dht reports no
// error when every server refused the record; Provide fails only when no
// server was found.
//
// # Looking channels up
//
// Connect runs a streaming provider lookup and dials providers as they
// arrive, until the wanted number are connected (the rest are cancelled) or
// the lookup is exhausted; providers without a known address are looked up
// with FindPeer first. A lookup that connects nobody is repeated up to 4
// times after 250 ms, 500 ms, 1 s, since a fresh record may still be on its
// way; then the error wraps ErrNoProviders with the number tried.
//
// # Manifest protocol /p2ptv/manifest/1.0.0
//
// One request per stream; the server closes the stream after its response.
//
//	request  = uvarint(len) cid            len 1..64; cid: the channel ID's binary CID (36 bytes)
//	response = status uvarint(len) payload
//	  status 0 ok:        payload is the manifest's exact bytes, len <= 4096 (p2ptvd.MaxManifestSize)
//	  status 1 not found: payload empty (or a reason), len <= 256
//	  status 2 error:     payload is a short reason (e.g. "bad channel id"), len <= 256
//
// Varints are unsigned LEB128 and must be minimal. The server reads at most
// 73 bytes and resets a stream whose request is not well framed; both sides
// give a stream 10 s. The client checks the length against the limit of the
// status before reading the payload, and accepts a manifest only if
// p2ptvd.DecodeManifest verifies that its bytes hash to the channel ID;
// FetchManifest asks up to 8 peers at once and the first verified answer
// wins, so one lying peer costs nothing but a log line. The client may use
// a relayed (limited) connection: a manifest is tiny.
//
// # Goroutines
//
// One re-provider per channel being provided (StartProviding; it ends with
// the last stop or Close, which wait for it). The manifest stream handler
// runs on the host's goroutine per stream; Close resets streams in flight
// and waits for the handlers. Connect and FetchManifest run their dials and
// requests on short-lived goroutines and wait for them before returning.
// kad-dht runs its own (event loop, routing-table refresh, provider store
// GC), stopped by Close. No package-level state: a hundred DHTs can live in
// one process.
package dht
