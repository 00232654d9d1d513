package buffer

import (
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// ev is one arrival: chunk Seq (random-access every gop Seqs) arriving at
// ts(Seq) + after.
type ev struct {
	seq   uint64
	after time.Duration
}

// simulate pushes the arrivals in order, advancing the buffer to each
// arrival time first, then advances to the end of time. One reader, opened
// before anything arrives, reads along.
func simulate(t *testing.T, cfg Config, gop int, evs []ev) (results []PushResult, got []Entry, st Stats) {
	t.Helper()
	h := newHarness(t, cfg)
	r := h.p.NewReader()
	defer r.Close()
	for _, e := range evs {
		at := ts(e.seq).Add(e.after)
		h.advance(at)
		results = append(results, h.push(at, gopChunk(e.seq, gop)))
		es, err := drain(t, r)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, es...)
	}
	end := t0.Add(24 * time.Hour)
	h.advance(end)
	es, _ := drain(t, r)
	got = append(got, es...)
	return results, got, h.p.Stats()
}

func inOrder(n uint64, after time.Duration) []ev {
	var evs []ev
	for s := range n {
		evs = append(evs, ev{s, after})
	}
	return evs
}

func TestDeadlines(t *testing.T) {
	const ms = time.Millisecond
	A := Accepted
	tests := []struct {
		name        string
		gop         int
		cfg         Config
		evs         []ev
		wantResults []PushResult
		want        []seqd
		wantMissed  uint64
		wantCont    float64
		wantStalls  uint64
	}{
		{
			name:        "in order",
			gop:         4,
			evs:         inOrder(6, 100*ms),
			wantResults: []PushResult{A, A, A, A, A, A},
			want:        plain(0, 1, 2, 3, 4, 5),
			wantCont:    1,
		},
		{
			name: "reordered within the target delay",
			gop:  4,
			// 1 arrives after 2, 450ms later than usual, but before its
			// deadline (ts(1) + 100ms + 500ms).
			evs:         []ev{{0, 100 * ms}, {2, 100 * ms}, {1, 550 * ms}, {3, 100 * ms}, {4, 100 * ms}},
			wantResults: []PushResult{A, A, A, A, A},
			want:        plain(0, 1, 2, 3, 4),
			wantCont:    1,
		},
		{
			name: "after its own deadline but before the next one's",
			gop:  4,
			// 1 is due at ts(1)+600ms and 2 at ts(1)+850ms; 1 arrives at
			// ts(1)+700ms: nothing was skipped yet, so it still plays,
			// and the delay grows by the 100ms it was late.
			evs:         []ev{{0, 100 * ms}, {2, -150 * ms}, {1, 700 * ms}, {3, 300 * ms}},
			wantResults: []PushResult{A, A, A, A},
			want:        plain(0, 1, 2, 3),
			wantCont:    1,
			wantStalls:  1,
		},
		{
			name: "a late chunk is waited for and the delay grows",
			gop:  4,
			// Chunks are due at ts+600ms; 2 arrives 300ms after its
			// deadline, after 3 and 4: the buffer holds 3 for it.
			evs:         []ev{{0, 100 * ms}, {1, 100 * ms}, {3, 100 * ms}, {4, 100 * ms}, {2, 900 * ms}},
			wantResults: []PushResult{A, A, A, A, A},
			want:        plain(0, 1, 2, 3, 4),
			wantCont:    1,
			wantStalls:  1,
		},
		{
			name: "gap skipped when the next chunk falls due",
			gop:  4,
			// 2 never comes; 3 falls due and 2 is skipped.
			evs:         []ev{{0, 100 * ms}, {1, 100 * ms}, {3, 100 * ms}, {4, 100 * ms}, {5, 100 * ms}},
			wantResults: []PushResult{A, A, A, A, A},
			want:        []seqd{{0, false}, {1, false}, {3, true}, {4, false}, {5, false}},
			wantMissed:  1,
			wantCont:    5.0 / 6,
		},
		{
			name:        "a run of missing chunks is one discontinuity",
			gop:         4,
			evs:         []ev{{0, 100 * ms}, {1, 100 * ms}, {5, 100 * ms}, {6, 100 * ms}},
			wantResults: []PushResult{A, A, A, A},
			want:        []seqd{{0, false}, {1, false}, {5, true}, {6, false}},
			wantMissed:  3,
			wantCont:    4.0 / 7,
		},
		{
			name: "late after its slot was skipped",
			gop:  4,
			cfg:  Config{TargetDelay: 500 * ms, MaxDelay: 500 * ms}, // no growing
			// 2 arrives after 3 was released in its place.
			evs:         []ev{{0, 100 * ms}, {1, 100 * ms}, {3, 100 * ms}, {4, 100 * ms}, {2, 900 * ms}},
			wantResults: []PushResult{A, A, A, A, Late},
			want:        []seqd{{0, false}, {1, false}, {3, true}, {4, false}},
			wantMissed:  1,
			wantCont:    4.0 / 5,
		},
		{
			name: "later than the delay may grow is skipped",
			gop:  4,
			cfg:  Config{TargetDelay: 500 * ms, MaxDelay: time.Second},
			// 2 is due at ts(2)+600ms; the buffer waits up to 500ms more
			// once 3 is due, then skips it.
			evs:         []ev{{0, 100 * ms}, {1, 100 * ms}, {3, 100 * ms}, {4, 100 * ms}, {2, 1400 * ms}},
			wantResults: []PushResult{A, A, A, A, Late},
			want:        []seqd{{0, false}, {1, false}, {3, true}, {4, false}},
			wantMissed:  1,
			wantCont:    4.0 / 5,
		},
		{
			name:        "duplicates of pending and released chunks",
			gop:         4,
			evs:         []ev{{0, 100 * ms}, {1, 100 * ms}, {1, 120 * ms}, {2, 100 * ms}, {0, 900 * ms}},
			wantResults: []PushResult{A, A, Duplicate, A, Duplicate},
			want:        plain(0, 1, 2),
			wantCont:    1,
		},
		{
			name: "starts only at a random-access chunk",
			gop:  4,
			// 1 and 2 come before the start, 5 after it but before 4
			// arrives; 3 arrives after the start.
			evs: []ev{{1, 100 * ms}, {2, 100 * ms}, {5, 100 * ms}, {4, 400 * ms},
				{3, 700 * ms}, {6, 100 * ms}},
			wantResults: []PushResult{A, A, A, A, BeforeStart, A},
			want:        plain(4, 5, 6),
			wantCont:    1,
		},
		{
			name:        "far ahead is refused",
			gop:         4,
			cfg:         Config{MaxPending: 8},
			evs:         []ev{{0, 100 * ms}, {8, -1900 * ms}, {7, -1650 * ms}, {1, 100 * ms}},
			wantResults: []PushResult{A, Refused, A, A},
			want:        []seqd{{0, false}, {1, false}, {7, true}},
			wantMissed:  5,
			wantCont:    3.0 / 8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, got, st := simulate(t, tt.cfg, tt.gop, tt.evs)
			if !reflect.DeepEqual(results, tt.wantResults) {
				t.Errorf("push results = %v, want %v", results, tt.wantResults)
			}
			if g := summary(got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("entries = %v, want %v", g, tt.want)
			}
			if st.Missed != tt.wantMissed {
				t.Errorf("missed = %d, want %d", st.Missed, tt.wantMissed)
			}
			if st.Continuity != tt.wantCont {
				t.Errorf("continuity = %v, want %v", st.Continuity, tt.wantCont)
			}
			if st.Stalls != tt.wantStalls {
				t.Errorf("stalls = %d, want %d", st.Stalls, tt.wantStalls)
			}
			if st.Released+st.Missed != st.NextSeq-st.StartSeq {
				t.Errorf("released %d + missed %d != due %d", st.Released, st.Missed, st.NextSeq-st.StartSeq)
			}
		})
	}
}

func TestReleaseTimes(t *testing.T) {
	h := newHarness(t, Config{TargetDelay: 400 * time.Millisecond})
	arrive := ts(0).Add(300 * time.Millisecond)
	h.push(arrive, chunk(0, p2ptvd.RandomAccess))
	h.push(arrive, chunk(1, 0))
	// offset = 300ms + 400ms: chunk 0 due at ts(0)+700ms, 1 at ts(1)+700ms.
	if next, ok := h.advance(arrive); !ok || !next.Equal(ts(0).Add(700*time.Millisecond)) {
		t.Fatalf("next due = %v, %v; want ts(0)+700ms", next, ok)
	}
	next, ok := h.advance(ts(0).Add(700 * time.Millisecond))
	if !ok || !next.Equal(ts(1).Add(700*time.Millisecond)) {
		t.Fatalf("next due = %v, %v; want ts(1)+700ms", next, ok)
	}
	if _, ok := h.advance(ts(1).Add(700 * time.Millisecond)); ok {
		t.Fatal("something still due after releasing everything")
	}
	r := h.p.NewReader()
	defer r.Close()
	got, _ := drain(t, r)
	for i, e := range got {
		if want := ts(uint64(i)).Add(700 * time.Millisecond); !e.Released.Equal(want) {
			t.Errorf("entry %d released at %v, want %v", i, e.Released, want)
		}
	}
	h.clk.Set(ts(1).Add(800 * time.Millisecond))
	st := h.p.Stats()
	want := Stats{
		Started: true, StartupTime: 400 * time.Millisecond, StartSeq: 0, NextSeq: 2,
		Released: 2, Due: 2, WindowChunks: 2, WindowBytes: 2 * 2 * p2ptvd.PacketSize,
		Readers: 1, Delay: 800 * time.Millisecond, Continuity: 1,
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

func TestStartupTimes(t *testing.T) {
	h := newHarness(t, Config{})
	h.push(t0, chunk(1, 0)) // first push, not a start
	h.push(t0.Add(300*time.Millisecond), chunk(4, p2ptvd.RandomAccess))
	h.advance(t0.Add(300*time.Millisecond + DefaultTargetDelay))
	st := h.p.Stats()
	if st.RAPWait != 300*time.Millisecond || st.StartupTime != 800*time.Millisecond {
		t.Errorf("RAP wait %v, startup %v; want 300ms, 800ms", st.RAPWait, st.StartupTime)
	}
	if st.BeforeStart != 1 || st.StartSeq != 4 {
		t.Errorf("before start %d, start seq %d; want 1, 4", st.BeforeStart, st.StartSeq)
	}
}

func TestPushResultString(t *testing.T) {
	for r, want := range map[PushResult]string{
		Accepted: "accepted", Duplicate: "duplicate", Late: "late", BeforeStart: "before-start",
		Refused: "refused", Ended: "ended", Closed: "closed", 99: "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", r, got, want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{TargetDelay: -1, MaxPending: -1, WindowBytes: -1, StallTimeout: -1}.withDefaults()
	if got.TargetDelay != DefaultTargetDelay || got.MaxPending != DefaultMaxPending ||
		got.WindowBytes != DefaultWindowBytes || got.StallTimeout != DefaultStallTimeout || got.Logger == nil {
		t.Errorf("defaults = %+v", got)
	}
}

func TestHoldBeforeStartIsBounded(t *testing.T) {
	h := newHarness(t, Config{MaxPending: 4})
	for s := uint64(1); s <= 10; s++ {
		h.push(ts(s), chunk(s, 0))
	}
	if got := h.push(ts(1), chunk(2, 0)); got != BeforeStart {
		t.Errorf("push below everything held = %v, want before-start", got)
	}
	if got := h.push(ts(10), chunk(10, 0)); got != Duplicate {
		t.Errorf("push of a held chunk = %v, want duplicate", got)
	}
	st := h.p.Stats()
	if st.Pending != 4 || st.BeforeStart != 7 {
		t.Errorf("pending %d, before start %d; want 4, 7", st.Pending, st.BeforeStart)
	}
	// 7..10 are held; the start at 6 keeps 7..9 and refuses 10, which is
	// MaxPending ahead of it.
	if got := h.push(ts(10), chunk(6, p2ptvd.RandomAccess)); got != Accepted {
		t.Fatalf("start = %v", got)
	}
	h.advance(ts(10).Add(time.Hour))
	r := h.p.NewReader()
	defer r.Close()
	got, _ := drain(t, r)
	if g, want := summary(got), plain(6, 7, 8, 9); !reflect.DeepEqual(g, want) {
		t.Errorf("entries = %v, want %v", g, want)
	}
	if st := h.p.Stats(); st.Refused != 1 {
		t.Errorf("refused = %d, want 1", st.Refused)
	}
}

func TestEndOfStream(t *testing.T) {
	h := newHarness(t, Config{})
	early := h.p.NewReader()
	defer early.Close()
	at := ts(0)
	h.push(at, chunk(0, p2ptvd.RandomAccess))
	h.push(at, chunk(1, 0))
	h.push(at, chunk(2, p2ptvd.EndOfStream))
	h.push(at, chunk(3, 0)) // beyond the end: held, then dropped
	h.advance(at.Add(time.Hour))
	if got := h.push(at, chunk(4, 0)); got != Ended {
		t.Errorf("push after the end = %v, want ended", got)
	}
	late := h.p.NewReader()
	defer late.Close()
	for name, r := range map[string]*Reader{"early": early, "late": late} {
		got, err := drain(t, r)
		if g, want := summary(got), plain(0, 1, 2); !reflect.DeepEqual(g, want) {
			t.Errorf("%s reader entries = %v, want %v", name, g, want)
		}
		if err != io.EOF {
			t.Errorf("%s reader after the end: %v, want io.EOF", name, err)
		}
		if _, err := r.Next(t.Context()); err != io.EOF {
			t.Errorf("%s reader again: %v, want io.EOF", name, err)
		}
	}
	if st := h.p.Stats(); !st.Ended || st.Pending != 0 || st.Released != 3 {
		t.Errorf("stats = %+v", st)
	}
	if _, ok := h.advance(at.Add(2 * time.Hour)); ok {
		t.Error("something due after the end")
	}
}

func TestEndOfStreamSkippedByWaitingReader(t *testing.T) {
	// No random-access chunk in the window: a new reader waits for one,
	// and when the end comes first it gets io.EOF rather than waiting.
	h := newHarness(t, Config{WindowBytes: 1})
	h.push(ts(0), chunk(0, p2ptvd.RandomAccess))
	h.push(ts(0), chunk(1, 0))
	h.advance(ts(1).Add(time.Second))
	r := h.p.NewReader()
	defer r.Close()
	h.push(ts(2), chunk(2, p2ptvd.EndOfStream))
	h.advance(ts(2).Add(time.Second))
	if got, err := drain(t, r); len(got) != 0 || err != io.EOF {
		t.Errorf("got %v, %v; want nothing and io.EOF", summary(got), err)
	}
}

func TestClosedBuffer(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.p.NewReader()
	defer r.Close()
	h.push(ts(0), chunk(0, p2ptvd.RandomAccess))
	h.p.Close()
	h.p.Close()
	if got := h.push(ts(1), chunk(1, 0)); got != Closed {
		t.Errorf("push after close = %v", got)
	}
	if _, ok := h.advance(ts(9)); ok {
		t.Error("advance after close reports something due")
	}
	if _, err := r.Next(t.Context()); err != ErrClosed {
		t.Errorf("next after close: %v", err)
	}
	if st := h.p.Stats(); st.Pending != 0 {
		t.Errorf("pending after close = %d", st.Pending)
	}
}

// A live source sends each chunk when it is complete, and chunk durations
// vary (a short chunk is cut before every keyframe). With deadlines counted
// from a chunk's end, a constant network delay never looks like jitter: no
// chunk is missed even with a tiny target delay, whatever the durations.
func TestDeadlinesFromChunkEnd(t *testing.T) {
	const net = 30 * time.Millisecond
	durs := []time.Duration{40, 500, 120, 500, 500, 10, 500, 250}
	h := newHarness(t, Config{TargetDelay: 5 * time.Millisecond})
	r := h.p.NewReader()
	defer r.Close()
	start := t0
	for i, d := range durs {
		c := chunk(uint64(i), 0)
		if i == 0 {
			c.Flags = p2ptvd.RandomAccess
		}
		c.Timestamp, c.Duration = start, d*time.Millisecond
		start = start.Add(c.Duration)
		arrive := c.Timestamp.Add(c.Duration + net)
		h.runTo(arrive)
		if got := h.push(arrive, c); got != Accepted {
			t.Fatalf("seq %d: push = %v", i, got)
		}
	}
	h.runTo(start.Add(time.Second))
	got, err := drain(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.p.Stats(); s.Missed != 0 || len(got) != len(durs) {
		t.Errorf("released %d of %d, missed %d; want all on time", len(got), len(durs), s.Missed)
	}
	for _, e := range got {
		want := e.Chunk.Timestamp.Add(e.Chunk.Duration + net + 5*time.Millisecond)
		if !e.Released.Equal(want) {
			t.Errorf("seq %d released at +%v, want +%v", e.Chunk.Seq, e.Released.Sub(t0), want.Sub(t0))
		}
	}
}

// The start chunk often comes the slow way (IWANT gossip before the joiner
// is grafted into the mesh) and the next one straight through the mesh.
// Until the first release, the deadlines follow the fastest arrival, so the
// slow start does not stay in the delay for good.
func TestAnchorOnFastestArrivalBeforeFirstRelease(t *testing.T) {
	const ms = time.Millisecond
	h := newHarness(t, Config{TargetDelay: 500 * ms})
	r := h.p.NewReader()
	defer r.Close()
	complete := func(s uint64) time.Time { return ts(s).Add(chunkDur) }
	h.push(complete(0).Add(600*ms), chunk(0, p2ptvd.RandomAccess)) // slow: 600ms
	h.runTo(complete(1).Add(10 * ms))
	h.push(complete(1).Add(10*ms), chunk(1, 0)) // fast: 10ms
	h.runTo(complete(2).Add(5 * time.Second))
	h.push(complete(2).Add(700*ms), chunk(2, 0)) // after the first release: too late to re-anchor
	h.runTo(complete(2).Add(5 * time.Second))
	got, _ := drain(t, r)
	// 0 was due at complete(0)+1100ms under the slow anchor; the fast one
	// makes every chunk due 510ms after it is complete.
	want := []time.Time{complete(0).Add(510 * ms), complete(1).Add(510 * ms), complete(2).Add(700 * ms)}
	if len(got) != len(want) {
		t.Fatalf("released %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if !e.Released.Equal(want[i]) {
			t.Errorf("seq %d released at complete+%v, want %v", e.Chunk.Seq, e.Released.Sub(complete(e.Chunk.Seq)), want[i].Sub(complete(e.Chunk.Seq)))
		}
	}
	// 2 arrived 190ms after its deadline: the delay grew instead of a skip.
	if st := h.p.Stats(); st.Missed != 0 || st.Stalls != 1 || st.Grown != 190*ms {
		t.Errorf("missed %d, stalls %d, grown %v; want 0, 1, 190ms", st.Missed, st.Stalls, st.Grown)
	}
}
