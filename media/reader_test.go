package media

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/p2ptv/p2ptvd"
)

// garbage returns n seeded random bytes with no sync byte, so that where
// the garbage ends is certain.
func garbage(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		for b[i] = byte(rng.IntN(256)); b[i] == syncByte; b[i] = byte(rng.IntN(256)) {
		}
	}
	return b
}

func readPackets(t *testing.T, r *Reader) ([][]byte, error) {
	t.Helper()
	var out [][]byte
	for {
		p, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, bytes.Clone(p))
	}
}

func TestReaderResync(t *testing.T) {
	clip := DemoClip()
	ps := packets(t, clip[:400*p2ptvd.PacketSize])
	rng := rand.New(rand.NewPCG(1, 2))
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	span := func(a, b int) []byte { return clip[a*p2ptvd.PacketSize : b*p2ptvd.PacketSize] }
	partial := ps[0][:100]

	for _, tc := range []struct {
		name                        string
		in                          []byte
		skipped, resyncs, truncated uint64
	}{
		{"clean", span(0, 400), 0, 0, 0},
		{"garbage at start", join(garbage(rng, 1000), span(0, 400)), 1000, 1, 0},
		{"garbage between", join(span(0, 100), garbage(rng, 77), span(100, 200), garbage(rng, 300), span(200, 400)), 377, 2, 0},
		{"one byte between", join(span(0, 100), garbage(rng, 1), span(100, 400)), 1, 1, 0},
		{"187 bytes between", join(span(0, 100), garbage(rng, 187), span(100, 400)), 187, 1, 0},
		{"truncated end", join(span(0, 400), partial), 0, 0, 100},
		{"garbage at end", join(span(0, 400), garbage(rng, 50)), 50, 0, 0},
		{"everywhere", join(garbage(rng, 5), span(0, 3), garbage(rng, 500), span(3, 397), garbage(rng, 3), span(397, 400), partial), 508, 3, 100},
		{"sync byte opens garbage", join(span(0, 100), []byte{syncByte}, garbage(rng, 150), span(100, 400)), 151, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per Read as well, to cross every buffer boundary.
			srcs := []io.Reader{bytes.NewReader(tc.in), iotest.OneByteReader(bytes.NewReader(tc.in))}
			if tc.name == "sync byte opens garbage" {
				// Spotting this takes a look at the next packet, which the
				// Reader takes only if it has already been read: it never
				// waits for more input before returning a packet.
				srcs = srcs[:1]
			}
			for _, src := range srcs {
				r := NewReader(src)
				got, err := readPackets(t, r)
				if !errors.Is(err, io.EOF) {
					t.Fatalf("end: %v, want io.EOF", err)
				}
				if len(got) != len(ps) {
					t.Fatalf("%d packets, want %d", len(got), len(ps))
				}
				for i := range got {
					if !bytes.Equal(got[i], ps[i]) {
						t.Fatalf("packet %d differs", i)
					}
				}
				s := r.Stats()
				if s.SkippedBytes != tc.skipped || s.Resyncs != tc.resyncs || s.TruncatedBytes != tc.truncated || s.Packets != 400 {
					t.Errorf("stats %+v, want skipped %d resyncs %d truncated %d", s, tc.skipped, tc.resyncs, tc.truncated)
				}
				if s.Bytes != uint64(len(tc.in)) {
					t.Errorf("Bytes %d, want %d", s.Bytes, len(tc.in))
				}
			}
		})
	}
}

// TestReaderNoGoodPacketLost injects unconstrained random garbage (sync
// bytes included) between packets, at least confirmPackets packets apart:
// every real packet must still come out, in order. A run of garbage can, rarely, pass for a packet itself when it
// has a 0x47 exactly 188 bytes before a real packet; those extra packets
// are allowed here.
func TestReaderNoGoodPacketLost(t *testing.T) {
	clip := DemoClip()
	ps := packets(t, clip[:1000*p2ptvd.PacketSize])
	rng := rand.New(rand.NewPCG(3, 4))
	var in []byte
	last := 0
	for i, p := range ps {
		if i-last >= confirmPackets && rng.IntN(5) == 0 {
			last = i
			g := make([]byte, rng.IntN(600))
			for j := range g {
				g[j] = byte(rng.IntN(256))
			}
			if i%50 == 0 {
				g = bytes.Repeat([]byte{syncByte}, len(g)) // worst case
			}
			in = append(in, g...)
		}
		in = append(in, p...)
	}
	got, err := readPackets(t, NewReader(bytes.NewReader(in)))
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	j := 0
	for _, p := range got {
		if j < len(ps) && bytes.Equal(p, ps[j]) {
			j++
		}
	}
	if j != len(ps) {
		t.Fatalf("only %d of %d packets came out in order (%d read)", j, len(ps), len(got))
	}
	if extra := len(got) - len(ps); extra > 5 {
		t.Errorf("%d garbage packets passed as real", extra)
	}
}

// TestReaderLonePacket: a packet alone between two runs of garbage cannot
// be told from garbage and goes with it.
func TestReaderLonePacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	clip := DemoClip()
	in := bytes.Join([][]byte{clip[:188*10], garbage(rng, 100), clip[188*10 : 188*11], garbage(rng, 100), clip[188*11 : 188*20]}, nil)
	r := NewReader(bytes.NewReader(in))
	got, err := readPackets(t, r)
	if !errors.Is(err, io.EOF) || len(got) != 19 {
		t.Fatalf("%d packets, %v; want 19 and EOF", len(got), err)
	}
	if s := r.Stats(); s.SkippedBytes != 388 || s.Resyncs != 1 {
		t.Errorf("stats %+v, want 388 bytes skipped in 1 resync", s)
	}
}

func TestReaderNotTS(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"text", []byte(strings.Repeat("this is not a transport stream\n", 10)), ErrNotTS},
		{"sync bytes only", bytes.Repeat([]byte{syncByte}, 100), ErrNotTS},
		{"garbage then TS past 64 KiB", append(garbage(rng, notTSLimit+1), DemoClip()[:188*10]...), ErrNotTS},
		{"garbage then TS inside 64 KiB", append(garbage(rng, notTSLimit-1), DemoClip()[:188*10]...), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.in)).Next()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReaderError returns a read error once the buffered packets are out.
func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	in := io.MultiReader(bytes.NewReader(DemoClip()[:188*3+10]), iotest.ErrReader(boom))
	got, err := readPackets(t, NewReader(in))
	if !errors.Is(err, boom) || len(got) != 3 {
		t.Fatalf("%d packets, %v; want 3 and boom", len(got), err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	if _, err := NewReader(zeroReader{}).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next: %v, want io.ErrNoProgress", err)
	}
}
