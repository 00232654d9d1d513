package buffer

import (
	"reflect"
	"testing"
	"time"
)

func TestResyncAfterStall(t *testing.T) {
	const gop = 4
	h := newHarness(t, Config{MaxPending: 8, StallTimeout: 5 * time.Second})
	r := h.p.NewReader()
	defer r.Close()
	releaseUpTo(h, 0, 3, gop)

	// The viewer was cut off for 25s; the mesh is at 101 now.
	base := ts(101)
	steps := []struct {
		seq     uint64
		at      time.Duration // after ts(101)
		want    PushResult
		comment string
	}{
		{101, 100 * time.Millisecond, Accepted, "far ahead after a stall: resync, held"},
		{100, 200 * time.Millisecond, Late, "below the resync point"},
		{102, 350 * time.Millisecond, Accepted, "held"},
		{103, 600 * time.Millisecond, Accepted, "held"},
		{104, 850 * time.Millisecond, Accepted, "random-access: restarts here"},
		{105, 1100 * time.Millisecond, Accepted, "pending"},
		{2, 1200 * time.Millisecond, Duplicate, "still in the window"},
	}
	for _, s := range steps {
		at := base.Add(s.at)
		h.advance(at)
		if got := h.push(at, gopChunk(s.seq, gop)); got != s.want {
			t.Errorf("push %d (%s) = %v, want %v", s.seq, s.comment, got, s.want)
		}
	}
	h.advance(ts(104).Add(100*time.Millisecond + DefaultTargetDelay))
	h.advance(ts(105).Add(time.Minute))
	got, _ := drain(t, r)
	want := []seqd{{0, false}, {1, false}, {2, false}, {3, false}, {104, true}, {105, false}}
	if g := summary(got); !reflect.DeepEqual(g, want) {
		t.Errorf("entries = %v, want %v", g, want)
	}
	st := h.p.Stats()
	if st.Resyncs != 1 || st.Missed != 100 || st.Released != 6 || st.NextSeq != 106 || st.Late != 1 {
		t.Errorf("stats = %+v", st)
	}
	// The new segment plays TargetDelay after its start chunk arrived.
	if d := got[4].Released.Sub(got[4].Chunk.Timestamp); d != 100*time.Millisecond+DefaultTargetDelay {
		t.Errorf("104 released %v after its timestamp", d)
	}
}

func TestNoResyncWithoutStall(t *testing.T) {
	h := newHarness(t, Config{MaxPending: 8, StallTimeout: 5 * time.Second})
	releaseUpTo(h, 0, 3, 4)
	// 4s since the last release: not yet a stall.
	at := ts(3).Add(5 * time.Second)
	if got := h.push(at, gopChunk(100, 4)); got != Refused {
		t.Errorf("far ahead within the stall timeout = %v, want refused", got)
	}
	if st := h.p.Stats(); st.Resyncs != 0 || st.Refused != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestReanchorAfterClockJump(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.p.NewReader()
	defer r.Close()
	releaseUpTo(h, 0, 3, 4)
	// The source clock jumps an hour ahead from Seq 4 on.
	jump := func(s uint64) time.Time { return ts(s).Add(time.Hour) }
	c4 := gopChunk(4, 4)
	c4.Timestamp = jump(4)
	at := ts(4).Add(100 * time.Millisecond)
	h.push(at, c4)
	next, ok := h.advance(at)
	if want := at.Add(DefaultTargetDelay); !ok || !next.Equal(want) {
		t.Errorf("next due %v, %v; want %v", next, ok, want)
	}
	c5 := gopChunk(5, 4)
	c5.Timestamp = jump(5)
	h.push(ts(5).Add(100*time.Millisecond), c5)
	h.advance(ts(5).Add(time.Second))
	got, _ := drain(t, r)
	if g := summary(got); !reflect.DeepEqual(g, plain(0, 1, 2, 3, 4, 5)) {
		t.Errorf("entries = %v", g)
	}
	if st := h.p.Stats(); st.Reanchors != 1 || st.Missed != 0 {
		t.Errorf("stats = %+v", st)
	}
}
