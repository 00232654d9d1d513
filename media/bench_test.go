package media

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkChunker measures the chunker alone on the demo clip, packets
// already split: PSI, PCR, RAP detection, cutting and copying out.
func BenchmarkChunker(b *testing.B) {
	clip := DemoClip()
	ps := packets(b, clip)
	b.SetBytes(int64(len(clip)))
	b.ReportAllocs()
	for b.Loop() {
		c := NewChunker(ChunkerConfig{}, testEpoch)
		for _, p := range ps {
			c.Push(p)
		}
		c.Flush()
	}
}

// BenchmarkChunkerIDRScan is the chunker on the clip with RAI stripped, so
// that keyframes are found by scanning the video.
func BenchmarkChunkerIDRScan(b *testing.B) {
	clip := stripRAI(b, DemoClip())
	ps := packets(b, clip)
	b.SetBytes(int64(len(clip)))
	for b.Loop() {
		c := NewChunker(ChunkerConfig{}, testEpoch)
		for _, p := range ps {
			c.Push(p)
		}
		c.Flush()
	}
}

// BenchmarkReader measures packet sync alone.
func BenchmarkReader(b *testing.B) {
	clip := DemoClip()
	b.SetBytes(int64(len(clip)))
	b.ReportAllocs()
	rd := bytes.NewReader(clip)
	r := NewReader(rd)
	for b.Loop() {
		rd.Reset(clip)
		r.Reset(rd)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

// BenchmarkSourceLoop measures the whole path a looped file takes: read,
// rewrite timestamps and counters, chunk.
func BenchmarkSourceLoop(b *testing.B) {
	clip := DemoClip()
	s, err := NewSource(bytes.NewReader(clip), SourceConfig{Loop: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var n int64
	for b.Loop() {
		ch, err := s.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(ch.Payload))
	}
	b.ReportMetric(float64(n)/1e6/b.Elapsed().Seconds(), "MB/s")
}
