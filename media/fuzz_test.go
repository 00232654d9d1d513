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

// fuzzSeeds are small on purpose: the fuzzer minimises every input that
// finds new coverage, and large ones make it crawl.
func fuzzSeeds(f *testing.F, add func(b []byte)) {
	clip := DemoClip()
	add(nil)
	add([]byte{0x47})
	add(clip[:188*40])           // SDT, PAT, PMT, the first keyframe's start
	add(clip[188*855 : 188*880]) // across the second keyframe
	add(stripRAI(nil, clip[188*855:188*880]))
	add(append(bytes.Repeat([]byte{0x47}, 400), clip[:188*10]...))
	add(append(clip[:188*5+77], clip[188*5:188*30]...))
}

// FuzzChunker feeds arbitrary bytes through the Reader and a Chunker with
// a fuzzed budget: nothing panics and every chunk keeps the rules.
func FuzzChunker(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b, uint16(0), uint16(0)) })
	f.Add(DemoClip()[:188*40], uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, maxBytes, maxMillis uint16) {
		cfg := ChunkerConfig{MaxBytes: int(maxBytes), MaxDuration: time.Duration(maxMillis) * time.Millisecond}
		r := NewReader(bytes.NewReader(data))
		c := NewChunker(cfg, testEpoch)
		var in []byte
		var chunks []p2ptvd.Chunk
		for {
			p, err := r.Next()
			if err != nil {
				break
			}
			in = append(in, p...)
			if ch, ok := c.Push(p); ok {
				chunks = append(chunks, ch)
			}
		}
		if ch, ok := c.Flush(); ok {
			chunks = append(chunks, ch)
		}
		lim := cfg.withDefaults()
		for i, ch := range chunks {
			if ch.Seq != uint64(i) || len(ch.Payload) == 0 || len(ch.Payload)%188 != 0 || len(ch.Payload) > lim.MaxBytes {
				t.Fatalf("chunk %d: seq %d, %d bytes (max %d)", i, ch.Seq, len(ch.Payload), lim.MaxBytes)
			}
			if ch.Duration < 0 || ch.Duration > lim.MaxDuration {
				t.Fatalf("chunk %d: duration %v", i, ch.Duration)
			}
			if i > 0 && !chunks[i-1].Timestamp.IsZero() && !ch.Timestamp.IsZero() && ch.Timestamp.Before(chunks[i-1].Timestamp) {
				t.Fatalf("chunk %d: timestamp goes back", i)
			}
		}
		if s := c.Stats(); s.TablesPrepended == 0 && !bytes.Equal(concat(chunks), in) {
			t.Fatal("chunks do not add up to the packets")
		}
		if s := r.Stats(); s.Bytes != uint64(len(data)) {
			t.Fatalf("reader accounted for %d of %d bytes", s.Bytes, len(data))
		}
	})
}

// FuzzSource runs a looping Source over arbitrary bytes for a bounded
// number of chunks: it never panics and ends with a sentinel error, io.EOF
// or chunks.
func FuzzSource(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := NewSource(bytes.NewReader(data), SourceConfig{Loop: true})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			_, err := s.Next(context.Background())
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrNotTS) && !errors.Is(err, ErrNoProgram) && !errors.Is(err, io.EOF) {
				t.Fatalf("Next: %v", err)
			}
			break
		}
		_ = s.Stats()
	})
}

// FuzzMarkDiscontinuity: the output is the input with at most the
// discontinuity bits set, and marking twice changes nothing more.
func FuzzMarkDiscontinuity(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		out := MarkDiscontinuity(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("input modified")
		}
		if len(out) != len(data) {
			t.Fatalf("%d bytes out of %d", len(out), len(data))
		}
		for i := range out {
			if out[i] != data[i] && (i%188 != 5 || out[i] != data[i]|0x80) {
				t.Fatalf("byte %d: %#x from %#x", i, out[i], data[i])
			}
		}
		if again := MarkDiscontinuity(out); !bytes.Equal(again, out) {
			t.Fatal("not idempotent")
		}
	})
}
