package buffer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/p2ptv/p2ptvd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the source clock at Seq 0; chunks are chunkDur apart.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const chunkDur = 250 * time.Millisecond

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// chunk makes Seq seq of a stream whose random-access chunks are every gop
// Seqs (gop 0: none), stamped at t0 + seq*chunkDur.
func chunk(seq uint64, flags p2ptvd.Flags) p2ptvd.Chunk {
	return p2ptvd.Chunk{
		Seq:       seq,
		Timestamp: ts(seq),
		Duration:  chunkDur,
		Flags:     flags,
		Payload:   make([]byte, p2ptvd.PacketSize*2),
	}
}

func ts(seq uint64) time.Time { return t0.Add(time.Duration(seq) * chunkDur) }

func gopChunk(seq uint64, gop int) p2ptvd.Chunk {
	var f p2ptvd.Flags
	if gop > 0 && seq%uint64(gop) == 0 {
		f = p2ptvd.RandomAccess
	}
	return chunk(seq, f)
}

// harness drives a Playout on a fake clock.
type harness struct {
	t   *testing.T
	clk *fakeClock
	p   *Playout
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clk := &fakeClock{t: t0}
	cfg.Clock = clk
	p := New(cfg)
	t.Cleanup(p.Close)
	return &harness{t: t, clk: clk, p: p}
}

func (h *harness) push(at time.Time, c p2ptvd.Chunk) PushResult {
	h.clk.Set(at)
	return h.p.Push(c)
}

func (h *harness) advance(at time.Time) (time.Time, bool) {
	h.clk.Set(at)
	return h.p.Advance(at)
}

// runTo does what Run would do up to at: it advances to each deadline in
// turn, so every chunk is released at its own deadline.
func (h *harness) runTo(at time.Time) {
	now := h.clk.Now()
	for range 1 << 20 {
		next, ok := h.advance(now)
		if !ok || next.After(at) {
			break
		}
		now = later(now, next)
	}
	h.advance(later(now, at))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// drain returns every entry r can read without blocking.
func drain(t *testing.T, r *Reader) (got []Entry, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		e, err := r.Next(ctx)
		if errors.Is(err, context.Canceled) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, e)
	}
}

// seqs summarises entries as Seqs, with a trailing "!" on discontinuities.
type seqd struct {
	Seq  uint64
	Disc bool
}

func summary(es []Entry) []seqd {
	out := make([]seqd, len(es))
	for i, e := range es {
		out[i] = seqd{e.Chunk.Seq, e.Discontinuity}
	}
	return out
}

func plain(seqs ...uint64) []seqd {
	out := make([]seqd, len(seqs))
	for i, s := range seqs {
		out[i] = seqd{Seq: s}
	}
	return out
}
