package gossip

import (
	"fmt"
	"sync"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// window is a channel's live window: which verified chunks are still worth
// relaying. It is safe for concurrent use (validators run in parallel).
type window struct {
	size   uint64
	maxAge time.Duration

	mu      sync.Mutex
	started bool
	highest uint64    // highest accepted seq
	newest  time.Time // newest accepted timestamp
}

func newWindow(size uint64, maxAge time.Duration) *window {
	return &window{size: size, maxAge: maxAge}
}

// admit checks c against the window at now and, if it passes, moves the
// window. c must already be verified: only the owner can move the window.
func (w *window) admit(c p2ptvd.Chunk, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	restart, err := w.check(c, now)
	if err != nil {
		return err
	}
	if restart || !w.started || c.Seq > w.highest {
		w.highest = c.Seq
	}
	if !w.started || c.Timestamp.After(w.newest) {
		w.newest = c.Timestamp
	}
	w.started = true
	return nil
}

// probe reports what admit would say, without moving the window.
func (w *window) probe(c p2ptvd.Chunk, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.check(c, now)
	return err
}

// check applies the rules. restart reports a chunk far behind the window
// but newer than anything accepted: the owner numbered afresh (a restarted
// broadcaster starts again at 0), and the window follows it. A replay of a
// genuinely old chunk cannot pass as a restart because its timestamp is
// not newer.
func (w *window) check(c p2ptvd.Chunk, now time.Time) (restart bool, err error) {
	age := now.Sub(c.Timestamp)
	if age > w.maxAge {
		return false, fmt.Errorf("chunk %d: %w: %s old, limit %s", c.Seq, ErrStale, age, w.maxAge)
	}
	if -age > w.maxAge {
		return false, fmt.Errorf("chunk %d: %w: %s ahead, limit %s", c.Seq, ErrFuture, -age, w.maxAge)
	}
	if w.started && c.Seq < w.highest && w.highest-c.Seq > w.size {
		if !c.Timestamp.After(w.newest) {
			return false, fmt.Errorf("chunk %d: %w: highest is %d, window %d", c.Seq, ErrOutOfWindow, w.highest, w.size)
		}
		return true, nil
	}
	return false, nil
}

// high returns the highest accepted seq and whether any chunk was accepted.
func (w *window) high() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.highest, w.started
}
