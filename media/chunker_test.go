package media

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// clipDuration is the demo clip's media time: 200 frames at 25 fps.
const clipDuration = 8 * time.Second

const frame = 40 * time.Millisecond

// checkChunks checks the rules every chunking of the demo clip (or a
// variant of it) must follow.
func checkChunks(t *testing.T, chunks []p2ptvd.Chunk, cfg ChunkerConfig) {
	t.Helper()
	checkChunksOf(t, chunks, cfg, clipDuration)
}

func checkChunksOf(t *testing.T, chunks []p2ptvd.Chunk, cfg ChunkerConfig, duration time.Duration) {
	t.Helper()
	cfg = cfg.withDefaults()
	var sum time.Duration
	for i, ch := range chunks {
		if ch.Seq != uint64(i) {
			t.Fatalf("chunk %d has seq %d", i, ch.Seq)
		}
		if len(ch.Payload) == 0 || len(ch.Payload)%p2ptvd.PacketSize != 0 {
			t.Fatalf("chunk %d: %d bytes is not whole packets", i, len(ch.Payload))
		}
		if len(ch.Payload) > cfg.MaxBytes {
			t.Errorf("chunk %d: %d bytes > budget %d", i, len(ch.Payload), cfg.MaxBytes)
		}
		if ch.Duration > cfg.MaxDuration || ch.Duration < 0 {
			t.Errorf("chunk %d: duration %v outside [0, %v]", i, ch.Duration, cfg.MaxDuration)
		}
		if i > 0 {
			prev := chunks[i-1]
			if got, want := ch.Timestamp, prev.Timestamp.Add(prev.Duration); !got.Equal(want) {
				t.Errorf("chunk %d: timestamp %v, want previous + duration = %v", i, got, want)
			}
		}
		if ch.Flags.Has(p2ptvd.Discontinuity) {
			t.Errorf("chunk %d flagged discontinuity", i)
		}
		if ch.Flags.Has(p2ptvd.RandomAccess) {
			ps := packets(t, ch.Payload)
			if len(ps) < 3 || ps[0].PID() != 0 || !ps[0].PUSI() || ps[1].PID() != demoPMTPID || !ps[1].PUSI() ||
				ps[2].PID() != demoVideoPID || !ps[2].PUSI() {
				t.Errorf("random-access chunk %d does not start PAT, PMT, video PES: PIDs %v", i, pids(ps, 4))
			}
		}
		sum += ch.Duration
	}
	if d := sum - duration; d < -frame || d > frame {
		t.Errorf("durations sum to %v, want %v within a frame", sum, duration)
	}
}

func pids(ps []Packet, n int) []uint16 {
	var out []uint16
	for _, p := range ps[:min(n, len(ps))] {
		out = append(out, p.PID())
	}
	return out
}

// rapOffsets returns where, in the concatenated payloads, each random-access
// chunk starts.
func rapOffsets(chunks []p2ptvd.Chunk) []int {
	var out []int
	off := 0
	for _, ch := range chunks {
		if ch.Flags.Has(p2ptvd.RandomAccess) {
			out = append(out, off)
		}
		off += len(ch.Payload)
	}
	return out
}

func TestChunkerDemoClip(t *testing.T) {
	clip := DemoClip()
	raps := videoRAPs(t, clip)
	if len(raps) != 4 {
		t.Fatalf("clip has %d video RAI packets, want 4 (8 s in 2 s GOPs)", len(raps))
	}
	// ffmpeg writes PAT, PMT just before each keyframe: the random-access
	// chunks start two packets before the RAI packet.
	var want []int
	for _, i := range raps {
		want = append(want, (i-2)*p2ptvd.PacketSize)
	}
	for _, cfg := range []ChunkerConfig{
		{},
		{MaxBytes: 16 << 10},
		{MaxDuration: 200 * time.Millisecond},
		{MaxDuration: 2 * time.Second},
		{MaxBytes: 8 << 10, MaxDuration: 100 * time.Millisecond},
		{MaxBytes: 1 << 20, MaxDuration: time.Hour},
	} {
		t.Run(fmt.Sprintf("%d-%v", cfg.MaxBytes, cfg.MaxDuration), func(t *testing.T) {
			chunks, c := chunkAll(t, clip, cfg)
			checkChunks(t, chunks, cfg)
			if !bytes.Equal(concat(chunks), clip) {
				t.Fatal("concatenated payloads differ from the input")
			}
			if got := rapOffsets(chunks); !slices.Equal(got, want) {
				t.Errorf("random-access chunks at %v, want %v", got, want)
			}
			// One random-access chunk per 2 s GOP.
			var ra []time.Time
			for _, ch := range chunks {
				if ch.Flags.Has(p2ptvd.RandomAccess) {
					ra = append(ra, ch.Timestamp)
				}
			}
			for i := 1; i < len(ra); i++ {
				if d := ra[i].Sub(ra[i-1]) - 2*time.Second; d < -frame || d > frame {
					t.Errorf("random-access chunks %d and %d are %v apart, want the 2 s GOP", i-1, i, d+2*time.Second)
				}
			}
			s := c.Stats()
			if s.Chunks != uint64(len(chunks)) || s.RandomAccessChunks != 4 || s.TablesPrepended != 0 || s.MissedRandomAccess != 0 || s.CCErrors != 0 {
				t.Errorf("stats %+v", s)
			}
			if !chunks[0].Timestamp.Equal(testEpoch) {
				t.Errorf("first timestamp %v, want the epoch %v", chunks[0].Timestamp, testEpoch)
			}
		})
	}
}

// TestChunkerDefaultShape pins what the default budget makes of the clip:
// a lone SDT packet (ffmpeg writes it before the first PAT), then four 2 s
// GOPs of four 500 ms chunks each.
func TestChunkerDefaultShape(t *testing.T) {
	chunks, _ := chunkAll(t, DemoClip(), ChunkerConfig{})
	if len(chunks) != 17 {
		t.Fatalf("%d chunks, want 17", len(chunks))
	}
	if len(chunks[0].Payload) != p2ptvd.PacketSize || chunks[0].Duration != 0 {
		t.Errorf("chunk 0: %d bytes, %v; want the SDT packet alone", len(chunks[0].Payload), chunks[0].Duration)
	}
	for i, ch := range chunks[1:] {
		if ch.Duration != 500*time.Millisecond {
			t.Errorf("chunk %d: %v, want 500ms", i+1, ch.Duration)
		}
		if got, want := ch.Flags.Has(p2ptvd.RandomAccess), i%4 == 0; got != want {
			t.Errorf("chunk %d: random access %v, want %v", i+1, got, want)
		}
	}
}

// stripRAI returns a copy of b with every random_access_indicator cleared,
// as from a muxer that does not set it.
func stripRAI(_ testing.TB, b []byte) []byte {
	out := bytes.Clone(b)
	for off := 0; off+188 <= len(out); off += 188 {
		if p := Packet(out[off : off+188]); p.hasAF() {
			p[5] &^= 0x40
		}
	}
	return out
}

// TestChunkerIDRFallback finds the same random-access points by scanning
// the video for IDR NAL units when no packet carries RAI. The clip's first
// IDR follows x264's ~700-byte SEI, so it starts beyond the first packet of
// its PES.
func TestChunkerIDRFallback(t *testing.T) {
	clip := DemoClip()
	stripped := stripRAI(t, clip)
	if len(videoRAPs(t, stripped)) != 0 {
		t.Fatal("RAI not stripped")
	}
	want, _ := chunkAll(t, clip, ChunkerConfig{})
	got, c := chunkAll(t, stripped, ChunkerConfig{})
	checkChunks(t, got, ChunkerConfig{})
	if !slices.Equal(rapOffsets(got), rapOffsets(want)) {
		t.Errorf("IDR scan: random-access chunks at %v, RAI at %v", rapOffsets(got), rapOffsets(want))
	}
	if len(got) != len(want) {
		t.Errorf("%d chunks, %d with RAI", len(got), len(want))
	}
	if !bytes.Equal(concat(got), stripped) {
		t.Error("concatenated payloads differ from the input")
	}
	if s := c.Stats(); s.MissedRandomAccess != 0 || s.RandomAccessChunks != 4 {
		t.Errorf("stats %+v", s)
	}
}

// TestChunkerPrependsTables drops the PAT and PMT ffmpeg writes before the
// keyframes after the first: the chunker must then start those random-access
// chunks with copies of the latest PAT and PMT.
func TestChunkerPrependsTables(t *testing.T) {
	clip := DemoClip()
	ps := packets(t, clip)
	raps := videoRAPs(t, clip)
	drop := map[int]bool{}
	for _, i := range raps[1:] {
		drop[i-2], drop[i-1] = true, true
	}
	var in []byte
	for i, p := range ps {
		if !drop[i] {
			in = append(in, p...)
		}
	}
	for _, strip := range []bool{false, true} {
		t.Run(fmt.Sprintf("stripRAI=%v", strip), func(t *testing.T) {
			in := in
			if strip {
				in = stripRAI(t, in)
			}
			chunks, c := chunkAll(t, in, ChunkerConfig{})
			checkChunks(t, chunks, ChunkerConfig{})
			if s := c.Stats(); s.TablesPrepended != 3 || s.RandomAccessChunks != 4 {
				t.Errorf("stats %+v, want 3 of 4 random-access chunks with tables prepended", s)
			}
			// Taking out the copies gives back the input. A copy is an exact
			// duplicate of the latest PAT or PMT packet.
			var out []byte
			lastPAT, lastPMT := []byte(nil), []byte(nil)
			for _, ch := range chunks {
				cps := packets(t, ch.Payload)
				start := 0
				if ch.Flags.Has(p2ptvd.RandomAccess) && ch.Seq > 1 {
					if !bytes.Equal(cps[0], lastPAT) || !bytes.Equal(cps[1], lastPMT) {
						t.Errorf("chunk %d does not start with copies of the latest PAT and PMT", ch.Seq)
					}
					start = 2
				}
				for _, p := range cps[start:] {
					switch p.PID() {
					case 0:
						lastPAT = p
					case demoPMTPID:
						lastPMT = p
					}
					out = append(out, p...)
				}
			}
			if !bytes.Equal(out, in) {
				t.Error("payloads without the copies differ from the input")
			}
		})
	}
}

// TestChunkerDiscontinuity plays the clip twice in a row without rewriting:
// the PCR jumps back at the seam. Media time must carry on smoothly and the
// chunk where the jump is seen is flagged.
func TestChunkerDiscontinuity(t *testing.T) {
	clip := DemoClip()
	in := append(bytes.Clone(clip), clip...)
	chunks, c := chunkAll(t, in, ChunkerConfig{})
	if s := c.Stats(); s.Discontinuities != 1 {
		t.Errorf("%d discontinuities, want 1", s.Discontinuities)
	}
	var flagged []uint64
	var sum time.Duration
	for i, ch := range chunks {
		if ch.Flags.Has(p2ptvd.Discontinuity) {
			flagged = append(flagged, ch.Seq)
		}
		if i > 0 && !ch.Timestamp.Equal(chunks[i-1].Timestamp.Add(chunks[i-1].Duration)) {
			t.Errorf("chunk %d: timestamp does not follow on", i)
		}
		sum += ch.Duration
	}
	// The jump is seen at the second pass's first PCR, on its keyframe: the
	// chunk that starts there carries the flag.
	if len(flagged) != 1 || !chunks[flagged[0]].Flags.Has(p2ptvd.RandomAccess) {
		t.Errorf("discontinuity flagged on chunks %v, want the second pass's first random-access chunk", flagged)
	}
	if d := sum - 2*clipDuration; d < -2*frame || d > 2*frame {
		t.Errorf("durations sum to %v, want about %v", sum, 2*clipDuration)
	}
}

// TestChunkerNoPCR times the stream by video DTS when the packets carry no
// PCR.
func TestChunkerNoPCR(t *testing.T) {
	in := bytes.Clone(DemoClip())
	for _, p := range packets(t, in) {
		if p.hasAF() {
			p[5] &^= 0x10 // PCR_flag; the bytes become stuffing
		}
	}
	chunks, c := chunkAll(t, in, ChunkerConfig{})
	checkChunks(t, chunks, ChunkerConfig{})
	if s := c.Stats(); s.RandomAccessChunks != 4 || s.Discontinuities != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestChunkerIgnoresNonPackets(t *testing.T) {
	c := NewChunker(ChunkerConfig{}, testEpoch)
	for _, b := range [][]byte{nil, {0x47}, make([]byte, 188), bytes.Repeat([]byte{0x47}, 189)} {
		if _, ok := c.Push(b); ok {
			t.Errorf("Push(%d bytes) made a chunk", len(b))
		}
	}
	if _, ok := c.Flush(); ok {
		t.Error("Flush made a chunk of nothing")
	}
}

func TestChunkerConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		in   ChunkerConfig
		want ChunkerConfig
	}{
		{ChunkerConfig{}, ChunkerConfig{MaxBytes: 348 * 188, MaxDuration: 500 * time.Millisecond}},
		{ChunkerConfig{MaxBytes: 10000, MaxDuration: time.Second}, ChunkerConfig{MaxBytes: 53 * 188, MaxDuration: time.Second}},
		{ChunkerConfig{MaxBytes: 1}, ChunkerConfig{MaxBytes: minChunkPackets * 188, MaxDuration: 500 * time.Millisecond}},
		{ChunkerConfig{MaxDuration: -1}, ChunkerConfig{MaxBytes: 348 * 188, MaxDuration: 500 * time.Millisecond}},
	} {
		if got := tc.in.withDefaults(); got != tc.want {
			t.Errorf("%+v.withDefaults() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
