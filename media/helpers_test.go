package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

const (
	demoVideoPID = 256
	demoAudioPID = 257
	demoPMTPID   = 4096
)

// packets splits b into packets; b must be whole packets.
func packets(t testing.TB, b []byte) []Packet {
	t.Helper()
	if len(b)%p2ptvd.PacketSize != 0 {
		t.Fatalf("%d bytes is not whole packets", len(b))
	}
	var ps []Packet
	for off := 0; off < len(b); off += p2ptvd.PacketSize {
		ps = append(ps, Packet(b[off:off+p2ptvd.PacketSize]))
	}
	return ps
}

// chunkAll runs b through a Chunker and flushes it.
func chunkAll(t testing.TB, b []byte, cfg ChunkerConfig) ([]p2ptvd.Chunk, *Chunker) {
	t.Helper()
	c := NewChunker(cfg, testEpoch)
	var out []p2ptvd.Chunk
	for _, p := range packets(t, b) {
		if ch, ok := c.Push(p); ok {
			out = append(out, ch)
		}
	}
	if ch, ok := c.Flush(); ok {
		out = append(out, ch)
	}
	return out, c
}

// readAll reads a Source to its end, or n chunks.
func readAll(t testing.TB, s *Source, n int) []p2ptvd.Chunk {
	t.Helper()
	var out []p2ptvd.Chunk
	for n <= 0 || len(out) < n {
		ch, err := s.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next after %d chunks: %v", len(out), err)
		}
		out = append(out, ch)
	}
	return out
}

func concat(chunks []p2ptvd.Chunk) []byte {
	var b bytes.Buffer
	for _, ch := range chunks {
		b.Write(ch.Payload)
	}
	return b.Bytes()
}

// videoRAPs returns the indices of the clip's video packets with RAI.
func videoRAPs(t testing.TB, b []byte) []int {
	var idx []int
	for i, p := range packets(t, b) {
		if p.PID() == demoVideoPID && p.RandomAccess() {
			idx = append(idx, i)
		}
	}
	return idx
}

var testEpoch = time.Unix(1_700_000_000, 0)
