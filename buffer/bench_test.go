package buffer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// BenchmarkPush measures a chunk's way through Push and Advance, arriving
// slightly out of order as from the mesh.
func BenchmarkPush(b *testing.B) {
	clk := &fakeClock{t: t0}
	p := New(Config{Clock: clk})
	defer p.Close()
	payload := make([]byte, 100*p2ptvd.PacketSize)
	mk := func(s uint64) p2ptvd.Chunk {
		c := p2ptvd.Chunk{Seq: s, Timestamp: ts(s), Duration: chunkDur, Payload: payload}
		if s%8 == 0 {
			c.Flags = p2ptvd.RandomAccess
		}
		return c
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range uint64(b.N) {
		// Swap neighbours: 1 0 3 2 5 4 ...
		s := i ^ 1
		if s >= uint64(b.N) {
			s = i
		}
		now := ts(i).Add(50 * time.Millisecond)
		clk.Set(now)
		p.Push(mk(s))
		p.Advance(now)
	}
	b.StopTimer()
	st := p.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
	b.ReportMetric(st.Continuity, "continuity")
}

// BenchmarkReaders measures handing each released chunk to 100 readers,
// each reading in its own goroutine as HTTP handlers do: one op is one
// chunk released and taken by every reader.
func BenchmarkReaders(b *testing.B) {
	const readers = 100
	clk := &fakeClock{t: t0}
	p := New(Config{Clock: clk})
	defer p.Close()
	got := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for range readers {
		r := p.NewReader()
		wg.Go(func() {
			defer r.Close()
			for {
				if _, err := r.Next(context.Background()); err != nil {
					return
				}
				got <- struct{}{}
			}
		})
	}
	payload := make([]byte, 100*p2ptvd.PacketSize)
	b.ResetTimer()
	for i := range uint64(b.N) {
		c := p2ptvd.Chunk{Seq: i, Timestamp: ts(i), Payload: payload}
		if i%8 == 0 {
			c.Flags = p2ptvd.RandomAccess
		}
		now := ts(i).Add(DefaultTargetDelay)
		clk.Set(ts(i))
		p.Push(c)
		p.Advance(now)
		for range readers {
			<-got
		}
	}
	b.StopTimer()
	p.Close()
	wg.Wait()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*readers), "ns/delivery")
}

// BenchmarkReadersUnpaced pushes as fast as it can past 100 readers that
// cannot keep up: Push and Advance must not slow down for them, and the
// readers overrun and jump rather than stall anything.
func BenchmarkReadersUnpaced(b *testing.B) {
	const readers = 100
	clk := &fakeClock{t: t0}
	p := New(Config{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	read := 0
	for range readers {
		r := p.NewReader()
		wg.Go(func() {
			defer r.Close()
			n := 0
			for {
				if _, err := r.Next(ctx); err != nil {
					break
				}
				n++
			}
			mu.Lock()
			read += n
			mu.Unlock()
		})
	}
	payload := make([]byte, 100*p2ptvd.PacketSize)
	b.ResetTimer()
	for i := range uint64(b.N) {
		c := p2ptvd.Chunk{Seq: i, Timestamp: ts(i), Payload: payload}
		if i%8 == 0 {
			c.Flags = p2ptvd.RandomAccess
		}
		if i == uint64(b.N)-1 {
			c.Flags |= p2ptvd.EndOfStream
		}
		clk.Set(ts(i))
		p.Push(c)
		p.Advance(ts(i).Add(DefaultTargetDelay))
	}
	b.StopTimer()
	p.Advance(ts(uint64(b.N)).Add(time.Hour))
	wg.Wait() // every reader reads to the end of the stream
	p.Close()
	st := p.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
	b.ReportMetric(float64(read)/float64(b.N*readers), "delivered")
	b.ReportMetric(float64(st.Overruns)/float64(readers), "overruns/reader")
}
