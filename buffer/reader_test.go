package buffer

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// payloadCost is what one test chunk costs against WindowBytes.
const payloadCost = 2 * p2ptvd.PacketSize

// releaseUpTo pushes Seqs from..to in order and releases them.
func releaseUpTo(h *harness, from, to uint64, gop int) {
	for s := from; s <= to; s++ {
		at := ts(s).Add(100 * time.Millisecond)
		h.advance(at)
		h.push(at, gopChunk(s, gop))
	}
	h.advance(ts(to).Add(time.Second))
}

func TestReaderJoinsAtLatestRAP(t *testing.T) {
	const gop = 4
	tests := []struct {
		released uint64 // Seqs 0..released-1 are out when the reader joins
		window   int    // WindowBytes in chunks; 0 = default
		want     []seqd
	}{
		{released: 1, want: plain(0)},
		{released: 3, want: plain(0, 1, 2)},
		{released: 4, want: plain(0, 1, 2, 3)},
		{released: 5, want: plain(4)},
		{released: 8, want: plain(4, 5, 6, 7)},
		{released: 11, want: plain(8, 9, 10)},
		// The window holds 2 chunks: 4 and 5 are in it, 4 is a RAP.
		{released: 6, window: 2, want: plain(4, 5)},
		// Only 5 and 6: no RAP in the window, so nothing until 8.
		{released: 7, window: 2, want: nil},
	}
	for _, tt := range tests {
		h := newHarness(t, Config{WindowBytes: tt.window * payloadCost})
		releaseUpTo(h, 0, tt.released-1, gop)
		r := h.p.NewReader()
		got, err := drain(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if g := summary(got); !reflect.DeepEqual(g, tt.want) && !(len(g) == 0 && len(tt.want) == 0) {
			t.Errorf("join after %d released (window %d): got %v, want %v", tt.released, tt.window, g, tt.want)
		}
		// Whatever the join point, the reader then follows the live edge.
		releaseUpTo(h, tt.released, 12, gop)
		got, _ = drain(t, r)
		if len(got) == 0 || got[len(got)-1].Chunk.Seq != 12 {
			t.Errorf("join after %d: did not follow to the live edge: %v", tt.released, summary(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Chunk.Seq != got[i-1].Chunk.Seq+1 || got[i].Discontinuity {
				t.Errorf("join after %d: not contiguous: %v", tt.released, summary(got))
				break
			}
		}
		r.Close()
	}
}

func TestReaderBeforeStartWaitsForRAP(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.p.NewReader()
	defer r.Close()
	h.push(ts(1), chunk(1, 0))
	h.advance(ts(1).Add(time.Hour))
	if got, _ := drain(t, r); len(got) != 0 {
		t.Fatalf("reader got %v before the start", summary(got))
	}
	releaseUpTo(h, 4, 6, 4)
	got, _ := drain(t, r)
	if g, want := summary(got), plain(4, 5, 6); !reflect.DeepEqual(g, want) {
		t.Errorf("entries = %v, want %v", g, want)
	}
}

func TestSlowReaderOverruns(t *testing.T) {
	const gop = 4
	h := newHarness(t, Config{WindowBytes: 6 * payloadCost})
	fast, slow := h.p.NewReader(), h.p.NewReader()
	defer fast.Close()
	defer slow.Close()
	var fastGot []Entry
	for s := uint64(0); s <= 19; s++ {
		releaseUpTo(h, s, s, gop)
		es, _ := drain(t, fast)
		fastGot = append(fastGot, es...)
		if s == 0 {
			if e, err := slow.Next(t.Context()); err != nil || e.Chunk.Seq != 0 {
				t.Fatalf("slow reader's first entry: %v, %v", e.Chunk.Seq, err)
			}
		}
	}
	var want []seqd
	for s := range uint64(20) {
		want = append(want, seqd{Seq: s})
	}
	if g := summary(fastGot); !reflect.DeepEqual(g, want) {
		t.Errorf("fast reader = %v, want every chunk in order", g)
	}
	// The window holds 14..19; the slow reader's next (1) is long gone,
	// so it jumps to the latest RAP, 16.
	got, _ := drain(t, slow)
	if g, want := summary(got), []seqd{{16, true}, {17, false}, {18, false}, {19, false}}; !reflect.DeepEqual(g, want) {
		t.Errorf("slow reader = %v, want %v", g, want)
	}
	st := h.p.Stats()
	if st.Overruns != 1 || st.Readers != 2 || st.WindowChunks != 6 || st.WindowBytes != 6*payloadCost {
		t.Errorf("stats = %+v", st)
	}
}

func TestOverrunWithoutRAPInWindow(t *testing.T) {
	// A window of 2 chunks and a GOP of 4: at times no RAP is in the
	// window, and an overrun reader waits for the next one.
	h := newHarness(t, Config{WindowBytes: 2 * payloadCost})
	r := h.p.NewReader()
	defer r.Close()
	releaseUpTo(h, 0, 0, 4)
	if got, _ := drain(t, r); len(got) != 1 {
		t.Fatalf("first entry: %v", summary(got))
	}
	releaseUpTo(h, 1, 6, 4) // window: 5, 6
	if got, _ := drain(t, r); len(got) != 0 {
		t.Fatalf("overrun reader got %v with no RAP in the window", summary(got))
	}
	releaseUpTo(h, 7, 9, 4)
	got, _ := drain(t, r)
	if g, want := summary(got), []seqd{{8, true}, {9, false}}; !reflect.DeepEqual(g, want) {
		t.Errorf("entries = %v, want %v", g, want)
	}
	if st := h.p.Stats(); st.Overruns != 1 {
		t.Errorf("overruns = %d, want 1", st.Overruns)
	}
}

func TestBigChunkStaysInWindow(t *testing.T) {
	// Every chunk is bigger than the window; the newest stays anyway, so
	// a reader at the live edge gets each one.
	h := newHarness(t, Config{WindowBytes: 100})
	r := h.p.NewReader()
	defer r.Close()
	for s := uint64(0); s <= 3; s++ {
		releaseUpTo(h, s, s, 1)
		got, _ := drain(t, r)
		if g := summary(got); !reflect.DeepEqual(g, plain(s)) {
			t.Errorf("after releasing %d: %v", s, g)
		}
	}
	// Two releases without reading: the reader lost 4 and jumps to 5.
	releaseUpTo(h, 4, 5, 1)
	got, _ := drain(t, r)
	if g, want := summary(got), []seqd{{5, true}}; !reflect.DeepEqual(g, want) {
		t.Errorf("entries = %v, want %v", g, want)
	}
	if st := h.p.Stats(); st.WindowChunks != 1 || st.Overruns != 1 {
		t.Errorf("window chunks %d, overruns %d; want 1, 1", st.WindowChunks, st.Overruns)
	}
}

func TestReaderCloseAndContext(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.p.NewReader()
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("next with an ended context: %v", err)
	}
	if st := h.p.Stats(); st.Readers != 1 {
		t.Errorf("readers = %d, want 1", st.Readers)
	}
	r.Close()
	r.Close()
	if _, err := r.Next(t.Context()); err != ErrClosed {
		t.Errorf("next after close: %v", err)
	}
	if st := h.p.Stats(); st.Readers != 0 {
		t.Errorf("readers = %d, want 0", st.Readers)
	}
}
