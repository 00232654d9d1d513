package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/p2ptv/p2ptvd"
)

func TestSourceReadsDemoClip(t *testing.T) {
	clip := DemoClip()
	s, err := NewSource(bytes.NewReader(clip), SourceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Stats may be read while Next runs (the race detector checks).
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = s.Stats()
			}
		}
	})
	chunks := readAll(t, s, 0)
	close(done)
	wg.Wait()
	checkChunks(t, chunks, ChunkerConfig{})
	if !bytes.Equal(concat(chunks), clip) {
		t.Error("concatenated payloads differ from the input")
	}
	for i := range 3 {
		if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
			t.Fatalf("Next after the end, %d: %v, want io.EOF", i, err)
		}
	}
	st := s.Stats()
	want := Stats{Packets: uint64(len(clip) / 188), Bytes: uint64(len(clip)), Chunks: 17, RandomAccessChunks: 4}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

func TestSourceErrors(t *testing.T) {
	clip := DemoClip()
	withoutPID := func(pid uint16) []byte {
		var out []byte
		for _, p := range packets(t, clip) {
			if p.PID() != pid {
				out = append(out, p...)
			}
		}
		return out
	}
	nulls := func(n int) []byte {
		p := make([]byte, 188)
		p[0], p[1], p[2], p[3] = syncByte, 0x1F, 0xFF, 0x10
		return bytes.Repeat(p, n)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotTS, "empty input"},
		{"text", []byte(strings.Repeat("hello, world\n", 1000)), ErrNotTS, "no packet in 13000 bytes"},
		{"short text", []byte("hello"), ErrNotTS, "no packet"},
		{"random", garbage(rng, 100<<10), ErrNotTS, "no packet sync"},
		{"no PMT", withoutPID(demoPMTPID), ErrNoProgram, "no PMT for program 1 on PID 4096"},
		{"no PAT", withoutPID(0), ErrNoProgram, "no PAT"},
		{"no video", stripVideoFromPMT(t, clip), ErrNoProgram, "has no video stream"},
		{"null packets past the bound", nulls(maxProgramSearch/188 + 1), ErrNoProgram, "none in the first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSource(bytes.NewReader(tc.in), SourceConfig{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Next(context.Background())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Next: %v, want %v with %q", err, tc.want, tc.msg)
			}
			if _, err2 := s.Next(context.Background()); !errors.Is(err2, tc.want) {
				t.Errorf("second Next: %v, want the same error", err2)
			}
		})
	}
}

// stripVideoFromPMT rewrites the clip's PMTs to list only the audio stream,
// with a fresh CRC: an audio-only program.
func stripVideoFromPMT(t *testing.T, clip []byte) []byte {
	out := bytes.Clone(clip)
	for _, p := range packets(t, out) {
		if p.PID() != demoPMTPID || !p.PUSI() {
			continue
		}
		sec := p.Payload()[1:]
		n := 3 + (int(sec[1]&0x0F)<<8 | int(sec[2]))
		info := int(sec[10]&0x0F)<<8 | int(sec[11])
		es := sec[12+info : n-4]
		// Find the video entry and cut it out.
		var kept []byte
		for len(es) >= 5 {
			l := 5 + (int(es[3]&0x0F)<<8 | int(es[4]))
			if es[0] != 0x1B {
				kept = append(kept, es[:l]...)
			}
			es = es[l:]
		}
		body := append(bytes.Clone(sec[:12+info]), kept...)
		newLen := len(body) + 4 - 3
		body[1] = body[1]&0xF0 | byte(newLen>>8)
		body[2] = byte(newLen)
		crc := crc32MPEG(body)
		body = append(body, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
		copy(sec, body)
		for i := len(body); i < len(sec); i++ {
			sec[i] = 0xFF
		}
	}
	return out
}

func TestSourceLoopNeedsSeeker(t *testing.T) {
	_, err := NewSource(io.MultiReader(bytes.NewReader(DemoClip())), SourceConfig{Loop: true})
	if err == nil || !strings.Contains(err.Error(), "io.ReadSeeker") {
		t.Fatalf("NewSource: %v, want an error naming io.ReadSeeker", err)
	}
}

// TestSourcePacing plays the clip in virtual time: each chunk comes out
// when its last packet is due, that is at its Timestamp plus Duration, and
// Timestamps follow media time from the moment reading started.
func TestSourcePacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, err := NewSource(bytes.NewReader(DemoClip()), SourceConfig{Pace: true})
		if err != nil {
			t.Fatal(err)
		}
		chunks := 0
		for {
			ch, err := s.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := time.Now(), ch.Timestamp.Add(ch.Duration); !got.Equal(want) {
				t.Errorf("chunk %d released at %v, want %v", ch.Seq, got.Sub(start), want.Sub(start))
			}
			chunks++
		}
		if got := time.Since(start); got != clipDuration {
			t.Errorf("the clip took %v to play, want %v", got, clipDuration)
		}
		if chunks != 17 {
			t.Errorf("%d chunks, want 17", chunks)
		}
	})
}

// TestSourcePacingCancel stops pacing as soon as ctx ends, and gives the
// held-back chunk on the next call.
func TestSourcePacingCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, _ := NewSource(bytes.NewReader(DemoClip()), SourceConfig{Pace: true})
		readAll(t, s, 2) // chunk 0 is due at once, chunk 1 at 500ms
		ctx, cancel := context.WithTimeout(context.Background(), 123*time.Millisecond)
		defer cancel()
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next: %v, want the deadline", err)
		}
		if got, want := time.Since(start), 623*time.Millisecond; got != want {
			t.Errorf("Next returned after %v, want %v", got, want)
		}
		ch, err := s.Next(context.Background())
		if err != nil || ch.Seq != 2 {
			t.Fatalf("Next: chunk %d, %v; want chunk 2", ch.Seq, err)
		}
		if got, want := time.Since(start), time.Second; got != want {
			t.Errorf("chunk 2 released at %v, want %v", got, want)
		}
		cancel()
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next with a done ctx: %v", err)
		}
	})
}

// fakeClock advances only when waited on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// TestSourceInjectedClock: timestamps count from the injected clock's Now,
// and pacing waits on its After for the media-time schedule.
func TestSourceInjectedClock(t *testing.T) {
	clk := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	start := clk.now
	s, _ := NewSource(bytes.NewReader(DemoClip()), SourceConfig{Pace: true, Clock: clk})
	chunks := readAll(t, s, 0)
	if !chunks[0].Timestamp.Equal(start) {
		t.Errorf("first timestamp %v, want the clock's %v", chunks[0].Timestamp, start)
	}
	var total time.Duration
	for _, d := range clk.waits {
		total += d
	}
	if total != clipDuration || len(clk.waits) != 16 {
		t.Errorf("waited %v in %d waits, want %v in 16 (chunk 0 is due at once)", total, len(clk.waits), clipDuration)
	}
}

// TestSourceGarbage runs a Source over the clip with garbage injected: it
// resyncs, counts, and loses no packet.
func TestSourceGarbage(t *testing.T) {
	clip := DemoClip()
	rng := rand.New(rand.NewPCG(11, 12))
	in := bytes.Join([][]byte{garbage(rng, 1000), clip[:188*500], garbage(rng, 10), clip[188*500 : 188*3000], garbage(rng, 5000), clip[188*3000:], clip[:50]}, nil)
	s, _ := NewSource(bytes.NewReader(in), SourceConfig{})
	chunks := readAll(t, s, 0)
	checkChunks(t, chunks, ChunkerConfig{})
	if !bytes.Equal(concat(chunks), clip) {
		t.Error("payloads differ from the clip")
	}
	st := s.Stats()
	if st.SkippedBytes != 6010 || st.Resyncs != 3 || st.TruncatedBytes != 50 || st.Bytes != uint64(len(in)) || st.CCErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSourceUntimed gives chunks the clock's time when the stream has no
// PCR or PTS to derive it from.
func TestSourceUntimed(t *testing.T) {
	in := bytes.Clone(DemoClip())
	for _, p := range packets(t, in) {
		if p.hasAF() {
			p[5] &^= 0x10
		}
		if p.PUSI() && p.PID() >= 256 {
			pl := p.Payload()
			pl[7] &^= 0xC0 // no PTS or DTS
		}
	}
	clk := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, _ := NewSource(bytes.NewReader(in), SourceConfig{Clock: clk, Pace: true})
	for _, ch := range readAll(t, s, 0) {
		if !ch.Timestamp.Equal(clk.now) || ch.Duration != 0 {
			t.Fatalf("chunk %d: %v %v, want the clock's time and no duration", ch.Seq, ch.Timestamp, ch.Duration)
		}
		if len(ch.Payload) > defaultMaxBytes {
			t.Fatalf("chunk %d: %d bytes", ch.Seq, len(ch.Payload))
		}
	}
	if len(clk.waits) != 0 {
		t.Errorf("paced an untimed stream: %v", clk.waits)
	}
}

var _ = p2ptvd.PacketSize

// stallReader sleeps once, before returning the byte at offset at.
type stallReader struct {
	r     io.Reader
	off   int
	at    int
	sleep time.Duration
}

func (s *stallReader) Read(b []byte) (int, error) {
	if s.off == s.at {
		time.Sleep(s.sleep)
		s.at = -1
	}
	if s.at > s.off && len(b) > s.at-s.off {
		b = b[:s.at-s.off]
	}
	n, err := s.r.Read(b)
	s.off += n
	return n, err
}

// TestSourceStall: when live input stalls, timestamps that media time
// would leave in the past are moved up to the wall clock, once, and stay
// monotonic.
func TestSourceStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clip := DemoClip()
		in := &stallReader{r: bytes.NewReader(clip), at: len(clip) / 2, sleep: 10 * time.Second}
		s, _ := NewSource(in, SourceConfig{})
		var prev p2ptvd.Chunk
		moved := false
		for i := 0; ; i++ {
			ch, err := s.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			end := ch.Timestamp.Add(ch.Duration)
			if i > 0 && end.Before(prev.Timestamp.Add(prev.Duration)) {
				t.Fatalf("chunk %d ends before chunk %d", ch.Seq, prev.Seq)
			}
			if i > 0 && !ch.Timestamp.Equal(prev.Timestamp.Add(prev.Duration)) {
				if moved {
					t.Fatalf("chunk %d: timestamps moved twice", ch.Seq)
				}
				moved = true
				if !end.Equal(time.Now()) {
					t.Errorf("chunk %d after the stall ends at %v, want now %v", ch.Seq, end, time.Now())
				}
			}
			prev = ch
		}
		if st := s.Stats(); st.Stalls != 1 || !moved {
			t.Errorf("%d stalls, moved %v; want 1", st.Stalls, moved)
		}
	})
}
