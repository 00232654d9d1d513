package buffer

import (
	"sort"

	"github.com/p2ptv/p2ptvd"
)

// cost is what a chunk is charged against the byte limits. A chunk counts
// at least one TS packet so that a flood of empty chunks stays bounded too.
func cost(c p2ptvd.Chunk) int { return max(len(c.Payload), p2ptvd.PacketSize) }

// pending holds the chunks not yet released, in a ring indexed by Seq.
// The caller keeps every stored Seq inside [playhead, playhead+len(slots)),
// so a slot never holds two live sequence numbers and the count is bounded
// by construction.
type pending struct {
	slots []p2ptvd.Chunk
	full  []bool
	n     int
	bytes int
	head  uint64 // lowest stored Seq; meaningful only when n > 0
}

func newPending(size int) pending {
	return pending{slots: make([]p2ptvd.Chunk, size), full: make([]bool, size)}
}

func (q *pending) slot(seq uint64) int { return int(seq % uint64(len(q.slots))) }

func (q *pending) has(seq uint64) bool { return q.full[q.slot(seq)] && q.slots[q.slot(seq)].Seq == seq }

// put stores c unless its Seq is already stored.
func (q *pending) put(c p2ptvd.Chunk) {
	if q.has(c.Seq) {
		return
	}
	i := q.slot(c.Seq)
	q.slots[i], q.full[i] = c, true
	if q.n == 0 || c.Seq < q.head {
		q.head = c.Seq
	}
	q.n++
	q.bytes += cost(c)
}

// popHead removes and returns the lowest chunk. The scan for the new head
// walks at most len(slots) slots, and over a run of releases each slot is
// walked about once, because the head only moves forward.
func (q *pending) popHead() p2ptvd.Chunk {
	i := q.slot(q.head)
	c := q.slots[i]
	q.slots[i], q.full[i] = p2ptvd.Chunk{}, false
	q.n--
	q.bytes -= cost(c)
	for s := q.head + 1; q.n > 0 && s-q.head <= uint64(len(q.slots)); s++ {
		if q.full[q.slot(s)] {
			q.head = s
			break
		}
	}
	return c
}

func (q *pending) peekHead() p2ptvd.Chunk { return q.slots[q.slot(q.head)] }

func (q *pending) reset() {
	if q.n == 0 {
		return
	}
	clear(q.slots)
	clear(q.full)
	q.n, q.bytes = 0, 0
}

// window is the released history new and slow readers read from: a ring of
// entries addressed by an absolute index that counts every release, so a
// reader's cursor stays meaningful while old entries are evicted.
type window struct {
	buf   []Entry
	first int    // position in buf of the oldest entry
	n     int    // entries held
	base  uint64 // absolute index of the oldest entry
	bytes int
}

func (w *window) end() uint64 { return w.base + uint64(w.n) }

func (w *window) at(abs uint64) Entry { return w.buf[(w.first+int(abs-w.base))%len(w.buf)] }

func (w *window) push(e Entry) uint64 {
	if w.n == len(w.buf) {
		grown := make([]Entry, max(16, 2*len(w.buf)))
		for i := range w.n {
			grown[i] = w.buf[(w.first+i)%len(w.buf)]
		}
		w.buf, w.first = grown, 0
	}
	w.buf[(w.first+w.n)%len(w.buf)] = e
	w.n++
	w.bytes += cost(e.Chunk)
	return w.end() - 1
}

func (w *window) popFront() {
	w.bytes -= cost(w.buf[w.first].Chunk)
	w.buf[w.first] = Entry{} // let the payload go
	w.first = (w.first + 1) % len(w.buf)
	w.n--
	w.base++
}

// contains reports whether a chunk with this Seq is in the window. Seq
// increases strictly along the window, so a binary search finds it.
func (w *window) contains(seq uint64) bool {
	i := sort.Search(w.n, func(i int) bool { return w.at(w.base+uint64(i)).Chunk.Seq >= seq })
	return i < w.n && w.at(w.base+uint64(i)).Chunk.Seq == seq
}
