// Package p2ptvd holds the domain types every part of p2ptvd shares: the
// channel identifier, the channel manifest that the identifier commits to,
// and the chunk of live stream that flows from the broadcaster to viewers.
//
// It imports no other package of the project and no libp2p: the playout
// buffer and the media code build on it and stay pure.
//
// # Manifest
//
// A manifest is the small JSON document a broadcaster writes once when it
// creates a channel:
//
//	{"v":1,"owner":"<base64 Ed25519 public key>","name":"...","created":"<RFC 3339>",
//	 "codec":"h264","bitrate":4000000,"chunk_ms":250}
//
// Its exact bytes are hashed with sha2-256 and the channel ID is the CIDv1
// (raw codec) of that hash, printed in base32 as /channel/bafk.... The ID is
// therefore self-certifying: a manifest fetched from anyone is checked
// against the hash, and it names the only key that may sign the channel's
// chunks. Only the bytes as fetched are ever hashed, so the encoding need
// not be canonical for verification; Encode is deterministic so that the
// broadcaster gets the same ID each time it encodes the same manifest.
//
// # Chunk
//
// A Chunk is a run of whole 188-byte MPEG-TS packets with a sequence number,
// the source's wall-clock timestamp, a duration and flags. Its wire form and
// signature belong to package gossip.
//
// This package starts no goroutines.
package p2ptvd
