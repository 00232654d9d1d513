package p2ptvd

import (
	"strings"
	"time"
)

// PacketSize is the size of one MPEG-TS packet. A chunk's payload is always
// a whole number of packets.
const PacketSize = 188

// Flags describe a chunk.
type Flags uint8

const (
	// RandomAccess marks a chunk a player can start decoding from: it
	// begins with PAT and PMT and then a video random-access point.
	RandomAccess Flags = 1 << iota
	// Discontinuity marks a chunk that does not follow on from the one
	// before it (the source restarted, or chunks were skipped).
	Discontinuity
	// EndOfStream marks the channel's last chunk; its payload may be empty.
	EndOfStream
)

// Has reports whether all of g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

func (f Flags) String() string {
	var s []string
	if f.Has(RandomAccess) {
		s = append(s, "rap")
	}
	if f.Has(Discontinuity) {
		s = append(s, "disc")
	}
	if f.Has(EndOfStream) {
		s = append(s, "eos")
	}
	return strings.Join(s, "|")
}

// Chunk is a piece of a channel's live stream.
type Chunk struct {
	Channel ChannelID
	// Seq numbers the channel's chunks from 0, without gaps at the source.
	Seq uint64
	// Timestamp is the source's wall-clock time of the chunk's first packet,
	// derived from the stream's PCR so that it advances with media time.
	Timestamp time.Time
	// Duration is the media time the chunk covers.
	Duration time.Duration
	Flags    Flags
	// Payload is whole TS packets. Whoever holds a Chunk must not modify
	// its payload: it is shared between the network, the buffer and readers.
	Payload []byte
}
