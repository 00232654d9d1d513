package buffer

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// op is one step of a scenario: push c at time at, or only advance to at.
type op struct {
	at   time.Time
	push bool
	c    p2ptvd.Chunk
}

// check runs ops (in time order) against a buffer with one reader opened
// before anything arrives and reading after every step, and checks what
// must hold whatever arrives: output strictly in Seq order, only pushed
// chunks, none twice, bounded memory, and counters that add up.
func check(t *testing.T, cfg Config, ops []op) (Stats, []Entry) {
	t.Helper()
	h := newHarness(t, cfg)
	cfg = h.p.cfg
	r := h.p.NewReader()
	defer r.Close()
	pushed := map[uint64][]p2ptvd.Chunk{}
	results := map[PushResult]uint64{}
	var got []Entry
	eof := false
	maxCost := 0
	read := func() {
		if eof {
			return
		}
		es, err := drain(t, r)
		got = append(got, es...)
		if err == io.EOF {
			eof = true
		} else if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	for _, o := range ops {
		h.runTo(o.at)
		if o.push {
			pushed[o.c.Seq] = append(pushed[o.c.Seq], o.c)
			results[h.push(o.at, o.c)]++
			maxCost = max(maxCost, cost(o.c))
		}
		read()
		st := h.p.Stats()
		if st.Pending > cfg.MaxPending {
			t.Fatalf("pending %d > MaxPending %d", st.Pending, cfg.MaxPending)
		}
		if st.PendingBytes > cfg.MaxPending*maxCost {
			t.Fatalf("pending bytes %d > %d", st.PendingBytes, cfg.MaxPending*maxCost)
		}
		if st.WindowBytes > cfg.WindowBytes && st.WindowChunks > 1 {
			t.Fatalf("window %d bytes in %d chunks > %d", st.WindowBytes, st.WindowChunks, cfg.WindowBytes)
		}
	}
	if len(ops) > 0 {
		h.runTo(ops[len(ops)-1].at.Add(24 * time.Hour))
	}
	read()
	st := h.p.Stats()

	for i, e := range got {
		if !slices.ContainsFunc(pushed[e.Chunk.Seq], func(c p2ptvd.Chunk) bool {
			return c.Timestamp.Equal(e.Chunk.Timestamp) && c.Flags == e.Chunk.Flags
		}) {
			t.Fatalf("entry %d: Seq %d was never pushed like that", i, e.Chunk.Seq)
		}
		if i == 0 {
			if !e.Chunk.Flags.Has(p2ptvd.RandomAccess) || e.Discontinuity {
				t.Fatalf("first entry %d is not a clean random-access start", e.Chunk.Seq)
			}
			continue
		}
		prev := got[i-1]
		if e.Chunk.Seq <= prev.Chunk.Seq {
			t.Fatalf("entry %d: Seq %d after %d", i, e.Chunk.Seq, prev.Chunk.Seq)
		}
		if gap := e.Chunk.Seq != prev.Chunk.Seq+1; gap != e.Discontinuity {
			t.Fatalf("entry %d: Seq %d after %d marked discontinuity=%v", i, e.Chunk.Seq, prev.Chunk.Seq, e.Discontinuity)
		}
		if e.Released.Before(prev.Released) {
			t.Fatalf("entry %d released before the one before it", i)
		}
	}
	// A small window may lose entries to a reader that is not yet started
	// or has overrun; with the default window no test reader falls behind.
	lossy := cfg.WindowBytes < DefaultWindowBytes
	if uint64(len(got)) != st.Released && !lossy || uint64(len(got)) > st.Released {
		t.Fatalf("reader got %d entries, buffer released %d", len(got), st.Released)
	}
	if st.Started && st.Released+st.Missed != st.NextSeq-st.StartSeq {
		t.Fatalf("released %d + missed %d != due %d", st.Released, st.Missed, st.NextSeq-st.StartSeq)
	}
	if st.Due != st.Released+st.Missed {
		t.Fatalf("due %d != released %d + missed %d", st.Due, st.Released, st.Missed)
	}
	if st.Late != results[Late] || st.Duplicates != results[Duplicate] {
		t.Fatalf("late %d, duplicates %d; pushes said %d, %d", st.Late, st.Duplicates, results[Late], results[Duplicate])
	}
	if st.Refused < results[Refused] || st.BeforeStart < results[BeforeStart] {
		t.Fatalf("refused %d, before start %d; pushes said at least %d, %d",
			st.Refused, st.BeforeStart, results[Refused], results[BeforeStart])
	}
	if st.Ended != eof {
		t.Fatalf("ended %v, but the reader saw EOF %v", st.Ended, eof)
	}
	return st, got
}

// scenario is a live stream of n chunks with random losses, jitter,
// duplicates, occasional long delays, a stretch of total loss, and stray
// far-future chunks, all drawn from seed.
func scenario(seed uint64, n int) (Config, []op) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cfg := Config{
		TargetDelay:  time.Duration(100+rng.IntN(900)) * time.Millisecond,
		MaxPending:   16 + rng.IntN(64),
		StallTimeout: time.Duration(1+rng.IntN(5)) * time.Second,
	}
	gop := 1 + rng.IntN(12)
	loss := rng.Float64() * 0.3
	jitter := time.Duration(rng.IntN(800)) * time.Millisecond
	var outFrom, outTo int
	if rng.IntN(3) == 0 {
		outFrom = rng.IntN(n)
		outTo = outFrom + rng.IntN(200)
	}
	eos := rng.IntN(2) == 0
	var ops []op
	for s := range n {
		c := gopChunk(uint64(s), gop)
		if eos && s == n-1 {
			c.Flags |= p2ptvd.EndOfStream
		}
		if s >= outFrom && s < outTo || rng.Float64() < loss {
			continue
		}
		copies := 1
		if rng.IntN(10) == 0 {
			copies = 2
		}
		for range copies {
			lag := 20*time.Millisecond + time.Duration(rng.Int64N(int64(jitter)+1))
			if rng.IntN(50) == 0 {
				lag += time.Duration(rng.Int64N(int64(10 * time.Second)))
			}
			ops = append(ops, op{at: c.Timestamp.Add(lag), push: true, c: c})
		}
		if rng.IntN(100) == 0 {
			far := gopChunk(uint64(s)+uint64(rng.Int64N(1<<40)), gop)
			ops = append(ops, op{at: c.Timestamp.Add(jitter), push: true, c: far})
		}
		if rng.IntN(4) == 0 {
			ops = append(ops, op{at: c.Timestamp.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))})
		}
	}
	slices.SortStableFunc(ops, func(a, b op) int { return a.at.Compare(b.at) })
	return cfg, ops
}

func TestProperties(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	var released, missed, resyncs, reanchors, ended uint64
	for seed := range uint64(seeds) {
		cfg, ops := scenario(seed, 100+int(seed%5)*100)
		st, _ := check(t, cfg, ops)
		released += st.Released
		missed += st.Missed
		resyncs += st.Resyncs
		reanchors += st.Reanchors
		if st.Ended {
			ended++
		}
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
	t.Logf("%d scenarios: %d released, %d missed, %d resyncs, %d re-anchors, %d ended",
		seeds, released, missed, resyncs, reanchors, ended)
	if resyncs == 0 || ended == 0 {
		t.Errorf("the scenarios never resynchronised or ended")
	}
}

// With no loss and every chunk arriving within the target delay of its
// timestamp, nothing may be missed, whatever the order.
func TestNoMissWithinTargetDelay(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 1))
		target := time.Duration(200+rng.IntN(800)) * time.Millisecond
		gop := 1 + rng.IntN(8)
		const n = 300
		var ops []op
		for s := range uint64(n) {
			c := gopChunk(s, gop)
			ops = append(ops, op{at: c.Timestamp.Add(time.Duration(rng.Int64N(int64(target)))), push: true, c: c})
		}
		slices.SortStableFunc(ops, func(a, b op) int { return a.at.Compare(b.at) })
		st, got := check(t, Config{TargetDelay: target, MaxPending: 64}, ops)
		if st.Missed != 0 || st.Continuity != 1 || got[len(got)-1].Chunk.Seq != n-1 {
			t.Fatalf("seed %d: %+v; missed %d, continuity %v, last %d", seed, st, st.Missed, st.Continuity, got[len(got)-1].Chunk.Seq)
		}
	}
}

// FuzzPlayout reads a scenario from bytes, 5 bytes a step: a Seq offset
// from a moving base, flags, and a time step.
func FuzzPlayout(f *testing.F) {
	f.Add([]byte{0, 1, 10, 0, 0, 1, 0, 10, 0, 0, 3, 0, 10, 0, 0, 2, 0, 200, 0, 0})
	f.Add([]byte{5, 0, 1, 0, 0, 4, 1, 1, 0, 0, 250, 0, 255, 255, 0, 250, 1, 255, 255, 0, 4, 4, 1, 0, 0})
	f.Add([]byte{0, 1, 0, 0, 1, 1, 4, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		var ops []op
		at := t0
		var base uint64
		for len(data) >= 5 && len(ops) < 2000 {
			step := data[:5]
			data = data[5:]
			at = at.Add(time.Duration(binary.LittleEndian.Uint16(step[2:4])) * time.Millisecond)
			if step[4]&1 == 1 {
				ops = append(ops, op{at: at})
				continue
			}
			var seq uint64
			switch b := uint64(step[0]); {
			case b < 200: // ahead of the newest so far
				seq = base + b
				base = seq
			case b < 255: // behind it
				seq = base - min(base, b-200)
			default: // far ahead
				seq = base + 1<<32
			}
			c := gopChunk(seq, 0)
			c.Flags = p2ptvd.Flags(step[1]) & (p2ptvd.RandomAccess | p2ptvd.EndOfStream | p2ptvd.Discontinuity)
			c.Payload = make([]byte, int(step[4]>>1)*p2ptvd.PacketSize)
			ops = append(ops, op{at: at, push: true, c: c})
		}
		check(t, Config{MaxPending: 8, WindowBytes: 16 * p2ptvd.PacketSize, StallTimeout: time.Second}, ops)
	})
}

func TestMemoryBoundUnderFlood(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cfg := Config{MaxPending: 32, WindowBytes: 64 << 10}
	h := newHarness(t, cfg)
	readers := []*Reader{h.p.NewReader(), h.p.NewReader()}
	defer readers[0].Close()
	defer readers[1].Close()
	now := t0
	var live uint64
	maxPending, maxWindow := 0, 0
	for i := range 200_000 {
		now = now.Add(time.Duration(rng.IntN(5)) * time.Millisecond)
		var seq uint64
		switch k := rng.IntN(10); {
		case k < 4: // the live stream, a little jittered
			seq = live + uint64(rng.IntN(8))
		case k < 6: // far future
			seq = rng.Uint64()
		case k < 8: // old and duplicate
			seq = live - min(live, uint64(rng.IntN(64)))
		default: // anywhere near
			seq = live + uint64(rng.IntN(1000))
		}
		if rng.IntN(20) == 0 {
			live++
		}
		c := p2ptvd.Chunk{
			Seq:       seq,
			Timestamp: t0.Add(time.Duration(seq%(1<<30)) * chunkDur),
			Payload:   make([]byte, rng.IntN(8)*p2ptvd.PacketSize),
		}
		if rng.IntN(6) == 0 {
			c.Flags = p2ptvd.RandomAccess
		}
		h.push(now, c)
		h.advance(now)
		if i%97 == 0 {
			drain(t, readers[0])
		}
		st := h.p.Stats()
		maxPending = max(maxPending, st.Pending)
		maxWindow = max(maxWindow, st.WindowBytes)
		if st.Pending > cfg.MaxPending || st.PendingBytes > cfg.MaxPending*8*p2ptvd.PacketSize {
			t.Fatalf("step %d: pending %d chunks, %d bytes", i, st.Pending, st.PendingBytes)
		}
		if st.WindowBytes > cfg.WindowBytes+8*p2ptvd.PacketSize {
			t.Fatalf("step %d: window %d bytes", i, st.WindowBytes)
		}
	}
	st := h.p.Stats()
	t.Logf("max pending %d, max window %d B; %+v", maxPending, maxWindow, st)
	if st.Released == 0 || st.Refused == 0 || st.Duplicates == 0 {
		t.Errorf("the flood did not exercise the buffer: %+v", st)
	}
}
