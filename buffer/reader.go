package buffer

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// Entry is a released chunk as a reader gets it.
type Entry struct {
	// Chunk is shared with the buffer and every other reader: its payload
	// must not be modified.
	Chunk p2ptvd.Chunk
	// Discontinuity says something before this entry was skipped (by the
	// buffer, or by this reader overrunning the window). A reader's first
	// entry never has it. The source's own flag stays in Chunk.Flags.
	Discontinuity bool
	// Released is when the buffer released the chunk.
	Released time.Time
}

// Reader is one consumer's cursor over the released chunks. A Reader is
// used by one goroutine; Close may be called from any.
type Reader struct {
	p    *Playout
	done chan struct{}
	once sync.Once

	// Guarded by p.mu.
	cursor  uint64 // absolute window index of the next entry to return
	needRAP bool   // skip entries until a random-access one
	disc    bool   // mark the next entry Discontinuity
	began   bool   // an entry has been returned
	eof     bool   // the end-of-stream entry has been returned
	closed  bool
}

// NewReader returns a reader that starts at the latest released
// random-access chunk still in the window, or, if there is none, at the
// next one to be released.
func (p *Playout) NewReader() *Reader {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &Reader{p: p, done: make(chan struct{})}
	r.seekRAP()
	p.readers++
	return r
}

// seekRAP puts the cursor on the latest random-access entry in the window,
// or past the window's end to wait for the next one. Called with p.mu held.
func (r *Reader) seekRAP() {
	p := r.p
	if p.hasRAP {
		r.cursor, r.needRAP = p.rap, false
	} else {
		r.cursor, r.needRAP = p.win.end(), true
	}
}

// Next returns the next entry, blocking until one is released. It returns
// io.EOF after the end-of-stream entry, ErrClosed once the reader or the
// buffer is closed, and ctx's error when ctx ends.
func (r *Reader) Next(ctx context.Context) (Entry, error) {
	p := r.p
	for {
		p.mu.Lock()
		if r.closed || p.closed {
			p.mu.Unlock()
			return Entry{}, ErrClosed
		}
		if r.eof {
			p.mu.Unlock()
			return Entry{}, io.EOF
		}
		if e, ok := r.take(); ok {
			p.mu.Unlock()
			return e, nil
		}
		if p.ended {
			// The end was released but this reader skipped it while
			// waiting for a random-access chunk.
			r.eof = true
			p.mu.Unlock()
			return Entry{}, io.EOF
		}
		wake := p.wake
		p.waited = true
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		case <-r.done:
		case <-wake:
		}
	}
}

// take returns the reader's next entry if it is in the window. Called with
// p.mu held.
func (r *Reader) take() (Entry, bool) {
	p := r.p
	if r.cursor < p.win.base {
		// Overrun: the next entry was evicted. Jump to where a player can
		// decode again rather than hand it a chunk from mid-GOP.
		// A reader already waiting for a random-access entry wanted
		// none of what was evicted, so that is no overrun.
		if r.began && !r.needRAP {
			p.st.overruns++
			r.disc = true
		}
		r.seekRAP()
	}
	for r.cursor < p.win.end() {
		e := p.win.at(r.cursor)
		r.cursor++
		if r.needRAP && !e.Chunk.Flags.Has(p2ptvd.RandomAccess) {
			continue
		}
		r.needRAP = false
		if r.disc {
			e.Discontinuity, r.disc = true, false
		}
		if !r.began {
			e.Discontinuity, r.began = false, true
		}
		if e.Chunk.Flags.Has(p2ptvd.EndOfStream) {
			r.eof = true
		}
		return e, true
	}
	return Entry{}, false
}

// Close releases the reader; its Next returns ErrClosed. It is safe to
// call more than once and from any goroutine.
func (r *Reader) Close() {
	r.once.Do(func() {
		r.p.mu.Lock()
		r.closed = true
		r.p.readers--
		r.p.mu.Unlock()
		close(r.done)
	})
}
