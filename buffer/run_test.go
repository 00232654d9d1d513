package buffer

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// source pushes n chunks into p as a live source would: chunk s is stamped
// at start + s*chunkDur and arrives lag later. The last one ends the stream
// if eos.
func source(p *Playout, start time.Time, n uint64, gop int, lag time.Duration, eos bool) {
	for s := range n {
		c := gopChunk(s, gop)
		c.Timestamp = start.Add(time.Duration(s) * chunkDur)
		if eos && s == n-1 {
			c.Flags |= p2ptvd.EndOfStream
		}
		time.Sleep(time.Until(c.Timestamp.Add(lag)))
		p.Push(c)
	}
}

func TestRunReleasesOnDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{TargetDelay: 300 * time.Millisecond})
		defer p.Close()
		ctx, cancel := context.WithCancel(t.Context())
		runErr := make(chan error, 1)
		go func() { runErr <- p.Run(ctx) }()

		r := p.NewReader()
		defer r.Close()
		start := time.Now()
		const n, lag = 40, 70 * time.Millisecond
		go source(p, start, n, 8, lag, true)

		var got []Entry
		for {
			e, err := r.Next(t.Context())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if now := time.Now(); !now.Equal(e.Released) {
				t.Errorf("seq %d: reader woke at %v, released at %v", e.Chunk.Seq, now, e.Released)
			}
			// Every chunk plays lag + TargetDelay after its timestamp.
			if d := e.Released.Sub(e.Chunk.Timestamp); d != lag+300*time.Millisecond {
				t.Errorf("seq %d: released %v after its timestamp, want %v", e.Chunk.Seq, d, lag+300*time.Millisecond)
			}
			got = append(got, e)
		}
		if len(got) != n {
			t.Errorf("got %d entries, want %d", len(got), n)
		}
		st := p.Stats()
		if st.Continuity != 1 || st.StartupTime != 300*time.Millisecond || st.Delay != lag+300*time.Millisecond {
			t.Errorf("stats = %+v", st)
		}
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	})
}

func TestRunBlockedReaderWaitsForStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{})
		go p.Run(t.Context())
		r := p.NewReader()
		got := make(chan Entry, 1)
		go func() {
			e, err := r.Next(t.Context())
			if err != nil {
				t.Errorf("next: %v", err)
			}
			got <- e
		}()
		start := time.Now()
		p.Push(p2ptvd.Chunk{Seq: 3, Timestamp: start}) // not a start
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case e := <-got:
			t.Fatalf("reader got %d before any random-access chunk", e.Chunk.Seq)
		default:
		}
		p.Push(p2ptvd.Chunk{Seq: 5, Timestamp: time.Now(), Flags: p2ptvd.RandomAccess})
		e := <-got
		if e.Chunk.Seq != 5 || time.Since(start) != time.Minute+DefaultTargetDelay {
			t.Errorf("got %d at %v, want 5 at 1m0.5s", e.Chunk.Seq, time.Since(start))
		}
		r.Close()
		p.Close()
	})
}

func TestCloseWakesEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{})
		runErr := make(chan error, 1)
		go func() { runErr <- p.Run(t.Context()) }()
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for range 5 {
			r := p.NewReader()
			wg.Go(func() {
				_, err := r.Next(t.Context())
				errs <- err
			})
		}
		closedReader := p.NewReader()
		wg.Go(func() {
			_, err := closedReader.Next(t.Context())
			if err != ErrClosed {
				t.Errorf("reader closed under Next: %v", err)
			}
		})
		synctest.Wait()
		closedReader.Close()
		synctest.Wait()
		p.Close()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != ErrClosed {
				t.Errorf("reader woken by Close: %v, want ErrClosed", err)
			}
		}
		if err := <-runErr; !errors.Is(err, ErrClosed) {
			t.Errorf("run after close: %v", err)
		}
	})
}

func TestReadersNeverStallRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A small window and fifty readers that never read: the buffer
		// goes on releasing, and the one reader that reads sees all.
		p := New(Config{WindowBytes: 4 * payloadCost})
		defer p.Close()
		go p.Run(t.Context())
		for range 50 {
			defer p.NewReader().Close()
		}
		r := p.NewReader()
		defer r.Close()
		const n = 2000
		go source(p, time.Now(), n, 8, 50*time.Millisecond, true)
		var seq uint64
		for {
			e, err := r.Next(t.Context())
			if err == io.EOF {
				break
			}
			if err != nil || e.Chunk.Seq != seq || e.Discontinuity {
				t.Fatalf("entry %d: %+v, %v", seq, e, err)
			}
			seq++
		}
		if st := p.Stats(); seq != n || st.Released != n || st.Overruns != 0 || st.Readers != 51 {
			t.Errorf("read %d; stats %+v", seq, st)
		}
	})
}

func TestRunWakesForEarlierDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Run sleeps until 9 is due; then 8, due sooner, arrives: Run
		// must release it on its own deadline, not 9's.
		p := New(Config{TargetDelay: time.Second})
		defer p.Close()
		go p.Run(t.Context())
		r := p.NewReader()
		defer r.Close()
		base := time.Now()
		p.Push(p2ptvd.Chunk{Seq: 7, Timestamp: base, Flags: p2ptvd.RandomAccess})
		p.Push(p2ptvd.Chunk{Seq: 9, Timestamp: base.Add(2 * time.Second)})
		if e, _ := r.Next(t.Context()); e.Chunk.Seq != 7 || time.Since(base) != time.Second {
			t.Fatalf("7 at %v", time.Since(base))
		}
		p.Push(p2ptvd.Chunk{Seq: 8, Timestamp: base.Add(500 * time.Millisecond)})
		if e, _ := r.Next(t.Context()); e.Chunk.Seq != 8 || time.Since(base) != 1500*time.Millisecond {
			t.Errorf("8 at %v, want 1.5s", time.Since(base))
		}
		if e, _ := r.Next(t.Context()); e.Chunk.Seq != 9 || time.Since(base) != 3*time.Second {
			t.Errorf("9 at %v, want 3s", time.Since(base))
		}
	})
}
