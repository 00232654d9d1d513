package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/media"
)

// The benchmarks' stream: the demo clip's pictures and sound muxed at a
// constant 4 Mbit/s, as `ffmpeg -muxrate 4000k` would: null packets (PID
// 0x1FFF) fill the slots the content does not need, and every content
// packet sits in the slot its PCR says it is due. So the clip keeps its
// 2 s GOPs and seamless loop, the chunker cuts it like any 4 Mbit/s
// broadcast (64 KiB chunks, ~7.6 a second, a random-access chunk every
// 2 s), and nothing multi-megabyte is committed or generated with ffmpeg at
// test time: the stream is derived in a few milliseconds and the same on
// every run.
const (
	streamBitrate = 4_000_000
	// demoPeriod is the demo clip's loop period (media/testdata/gen.sh cuts
	// its audio to the video's 8 s).
	demoPeriod = 8 * time.Second
)

// nullPacket is MPEG-TS stuffing: PID 0x1FFF, payload only, all ones.
func nullPacket() []byte {
	p := bytes.Repeat([]byte{0xFF}, p2ptvd.PacketSize)
	p[0], p[1], p[2], p[3] = 0x47, 0x1F, 0xFF, 0x10
	return p
}

// paddedClip returns the demo clip padded with null packets to a constant
// bitrate (bits per second). One loop period fills a whole number of
// packets, so the rate is bitrate to within one packet per period.
func paddedClip(bitrate int) ([]byte, error) {
	clip := media.DemoClip()
	if len(clip)%p2ptvd.PacketSize != 0 {
		return nil, fmt.Errorf("demo clip is %d bytes, not whole packets", len(clip))
	}
	n := len(clip) / p2ptvd.PacketSize
	slots := int((int64(demoPeriod)*int64(bitrate)/8/int64(time.Second) + p2ptvd.PacketSize/2) / p2ptvd.PacketSize)
	if slots < n {
		return nil, fmt.Errorf("%d bit/s holds %d packets per period, the clip has %d", bitrate, slots, n)
	}
	slot := time.Duration(int64(demoPeriod) / int64(slots)) // one packet's time on the wire

	// Each content packet's media time: its PCR where it has one, linear
	// between PCRs, and the nearest PCR's time before the first and after
	// the last.
	times := make([]time.Duration, n)
	known := make([]bool, n)
	prev := -1
	for i := range n {
		pcr, ok := media.Packet(clip[i*p2ptvd.PacketSize : (i+1)*p2ptvd.PacketSize]).PCR()
		if !ok {
			continue
		}
		times[i], known[i] = time.Duration(pcr*1000/27), true
		if prev >= 0 {
			for j := prev + 1; j < i; j++ {
				times[j] = times[prev] + (times[i]-times[prev])*time.Duration(j-prev)/time.Duration(i-prev)
			}
		} else {
			for j := range i {
				times[j] = times[i]
			}
		}
		prev = i
	}
	if prev < 0 {
		return nil, fmt.Errorf("demo clip has no PCR")
	}
	for j := prev + 1; j < n; j++ {
		times[j] = times[prev]
	}
	if span := times[n-1] - times[0]; span >= demoPeriod {
		return nil, fmt.Errorf("demo clip spans %v of PCR, more than its %v period", span, demoPeriod)
	}

	// Slot k is due at start + k·slot; a content packet takes the first
	// free slot not earlier than its time, nulls fill the rest.
	start := times[0]
	null := nullPacket()
	out := make([]byte, 0, slots*p2ptvd.PacketSize)
	k := 0
	for i := range n {
		for start+time.Duration(k)*slot+slot/2 < times[i] {
			out = append(out, null...)
			k++
		}
		out = append(out, clip[i*p2ptvd.PacketSize:(i+1)*p2ptvd.PacketSize]...)
		k++
	}
	if k > slots {
		return nil, fmt.Errorf("content needs %d slots, the period has %d", k, slots)
	}
	for ; k < slots; k++ {
		out = append(out, null...)
	}
	return out, nil
}

// clipChunks cuts n chunks from the padded clip played in a loop, as a
// broadcaster of it does.
func clipChunks(clip []byte, n int) ([]p2ptvd.Chunk, error) {
	src, err := media.NewSource(bytes.NewReader(clip), media.SourceConfig{Loop: true})
	if err != nil {
		return nil, err
	}
	out := make([]p2ptvd.Chunk, 0, n)
	for len(out) < n {
		c, err := src.Next(context.Background())
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", len(out), err)
		}
		out = append(out, c)
	}
	return out, nil
}

// TestPaddedClip checks that the benchmark stream is what the benchmarks
// claim: 4 Mbit/s of chunks no larger than the chunker's 64 KiB, a
// random-access chunk every 2 s, and the content packets of the demo clip
// in order.
func TestPaddedClip(t *testing.T) {
	clip, err := paddedClip(streamBitrate)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := float64(len(clip))*8/demoPeriod.Seconds(), float64(streamBitrate); got < want*0.999 || got > want*1.001 {
		t.Errorf("rate %.0f bit/s, want %.0f", got, want)
	}
	var content []byte
	for i := 0; i < len(clip); i += p2ptvd.PacketSize {
		if p := media.Packet(clip[i : i+p2ptvd.PacketSize]); p.PID() != 0x1FFF {
			content = append(content, p...)
		}
	}
	if !bytes.Equal(content, media.DemoClip()) {
		t.Error("content packets differ from the demo clip")
	}

	chunks, err := clipChunks(clip, 200) // three loops
	if err != nil {
		t.Fatal(err)
	}
	var bytesTotal int
	var dur time.Duration
	var raps []uint64
	for _, c := range chunks {
		if len(c.Payload) > 64<<10 {
			t.Errorf("seq %d: %d bytes", c.Seq, len(c.Payload))
		}
		if c.Flags.Has(p2ptvd.RandomAccess) {
			raps = append(raps, c.Seq)
		}
		bytesTotal += len(c.Payload)
		dur += c.Duration
	}
	if got := float64(bytesTotal) * 8 / dur.Seconds(); got < streamBitrate*0.98 || got > streamBitrate*1.02 {
		t.Errorf("chunks carry %.0f bit/s of media time, want ≈ %d", got, streamBitrate)
	}
	if len(raps) < 2 {
		t.Fatalf("random-access chunks at %v", raps)
	}
	for i := 1; i < len(raps); i++ {
		gop := chunks[raps[i]].Timestamp.Sub(chunks[raps[i-1]].Timestamp)
		if gop < 1990*time.Millisecond || gop > 2010*time.Millisecond {
			t.Errorf("GOP from seq %d to %d lasts %v, want 2 s", raps[i-1], raps[i], gop)
		}
	}
	t.Logf("%d chunks, %.1f chunks/s, %.0f bit/s, random access at %v", len(chunks), float64(len(chunks))/dur.Seconds(), float64(bytesTotal)*8/dur.Seconds(), raps[:4])
}
