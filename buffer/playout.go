package buffer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// ErrClosed is returned by Reader.Next and Run once the buffer or the
// reader has been closed.
var ErrClosed = errors.New("playout buffer closed")

// Clock is what the buffer needs of time; nil means time.Now. Run uses real
// timers (time.NewTimer), which are virtual under testing/synctest, so tests
// of Run use synctest and tests of the state machine pass explicit times.
type Clock interface{ Now() time.Time }

// Defaults for the zero Config.
const (
	DefaultTargetDelay  = 500 * time.Millisecond
	DefaultMaxPending   = 256
	DefaultWindowBytes  = 8 << 20
	DefaultStallTimeout = 5 * time.Second
	DefaultMaxDelay     = 4 * time.Second
)

// Config tunes a Playout. The zero value works; zero or negative fields
// take the defaults above.
type Config struct {
	// TargetDelay is how long after the start chunk arrives it is played;
	// every later chunk keeps the same distance to its source timestamp.
	TargetDelay time.Duration
	// MaxDelay caps how far the delay may grow when the chunk due next
	// arrives late: rather than skip it, the buffer waits for it (the
	// output pauses) and keeps the larger delay from then on, up to
	// MaxDelay. A chunk still missing when MaxDelay is used up is skipped.
	// MaxDelay ≤ TargetDelay turns growing off. Zero means the larger of
	// DefaultMaxDelay and TargetDelay.
	MaxDelay time.Duration
	// MaxPending bounds the chunks held before release, and with it how
	// far ahead of the playhead a chunk may be.
	MaxPending int
	// WindowBytes bounds the released history that new and slow readers
	// read from.
	WindowBytes int
	// StallTimeout is how long the buffer may release nothing before it
	// gives up on the playhead and resynchronises (see doc.go).
	StallTimeout time.Duration
	Clock        Clock
	Logger       *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.TargetDelay <= 0 {
		c.TargetDelay = DefaultTargetDelay
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = max(DefaultMaxDelay, c.TargetDelay)
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.WindowBytes <= 0 {
		c.WindowBytes = DefaultWindowBytes
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// PushResult says what Push did with a chunk.
type PushResult uint8

const (
	// Accepted: the chunk is held for release (or, before the start, held
	// in case a random-access chunk before it arrives next).
	Accepted PushResult = iota
	// Duplicate: a chunk with this Seq is already pending or released.
	Duplicate
	// Late: the chunk's slot was already released or skipped.
	Late
	// BeforeStart: the chunk precedes the chunk the buffer started at.
	BeforeStart
	// Refused: the chunk is too far ahead of the playhead to hold.
	Refused
	// Ended: the end-of-stream chunk has been released.
	Ended
	// Closed: the buffer is closed.
	Closed
)

func (r PushResult) String() string {
	switch r {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case Late:
		return "late"
	case BeforeStart:
		return "before-start"
	case Refused:
		return "refused"
	case Ended:
		return "ended"
	case Closed:
		return "closed"
	}
	return "unknown"
}

// Playout is the playout buffer of one channel. Its methods are safe for
// concurrent use.
type Playout struct {
	cfg   Config
	clock Clock
	log   *slog.Logger

	kick chan struct{} // tells Run the earliest deadline may have moved
	done chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	wake   chan struct{} // closed and replaced whenever readers have something new
	waited bool          // a reader may be waiting on wake

	// Before the start, and again while resynchronising, the buffer seeks
	// a random-access chunk; held keeps the chunks seen meanwhile that may
	// follow it.
	seeking bool
	floor   uint64 // while resynchronising, chunks below it are late
	held    map[uint64]p2ptvd.Chunk

	started bool
	ended   bool
	offset  time.Duration // chunk s is due at s.Timestamp + s.Duration + offset
	grown   time.Duration // how much offset has grown for late chunks since the (re)start
	next    uint64        // the playhead: the next Seq to release
	disc    bool          // the next released entry follows a resync
	pend    pending
	win     window
	rap     uint64 // absolute window index of the latest released RAP chunk
	hasRAP  bool

	lastProgress time.Time // last release, or the (re)start
	lastTS       time.Time // source timestamp of the last released chunk

	firstPush, startFound, firstRelease time.Time
	pushed                              bool
	readers                             int
	st                                  counters
}

type counters struct {
	startSeq                                        uint64
	released, missed, late, dups, refused, preStart uint64
	resyncs, reanchors, overruns, stalls            uint64
}

// New returns an empty buffer waiting for its first random-access chunk.
func New(cfg Config) *Playout {
	cfg = cfg.withDefaults()
	p := &Playout{
		cfg:     cfg,
		clock:   cfg.Clock,
		log:     cfg.Logger,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		wake:    make(chan struct{}),
		seeking: true,
		held:    make(map[uint64]p2ptvd.Chunk),
		pend:    newPending(cfg.MaxPending),
	}
	return p
}

func (p *Playout) now() time.Time {
	if p.clock == nil {
		return time.Now()
	}
	return p.clock.Now()
}

// Push offers a chunk; it never blocks and is safe to call from any
// goroutine. It reports what happened to the chunk.
func (p *Playout) Push(c p2ptvd.Chunk) PushResult {
	now := p.now()
	p.mu.Lock()
	r, kick := p.push(c, now)
	p.mu.Unlock()
	if kick {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	return r
}

func (p *Playout) push(c p2ptvd.Chunk, now time.Time) (r PushResult, kick bool) {
	if p.closed {
		return Closed, false
	}
	if !p.pushed {
		p.pushed, p.firstPush = true, now
	}
	if p.ended {
		return Ended, false
	}
	if p.seeking {
		if p.started && c.Seq < p.floor {
			return p.behind(c.Seq), false
		}
		if _, ok := p.held[c.Seq]; ok {
			p.st.dups++
			return Duplicate, false
		}
		if c.Flags.Has(p2ptvd.RandomAccess) {
			p.start(c, now)
			return Accepted, true
		}
		return p.hold(c), false
	}
	if c.Seq < p.next {
		return p.behind(c.Seq), false
	}
	ahead := c.Seq - p.next
	if ahead >= uint64(p.cfg.MaxPending) {
		if now.Sub(p.lastProgress) >= p.cfg.StallTimeout {
			p.resync(c.Seq, now)
			return p.push(c, now)
		}
		p.st.refused++
		return Refused, false
	}
	if p.pend.has(c.Seq) {
		p.st.dups++
		return Duplicate, false
	}
	p.pend.put(c)
	if c.Seq == p.next {
		p.grow(c, now)
	}
	if p.st.released == 0 && !p.disc {
		// Until the first release, anchor the deadlines on the fastest
		// arrival seen: the start chunk may have come the slow way (IWANT
		// gossip before the joiner is grafted) and its lag would otherwise
		// stay in the delay for good. A chunk that arrives before its
		// source says it was complete tells nothing about the path.
		if lag := now.Sub(complete(c)); lag >= 0 && lag+p.cfg.TargetDelay < p.offset {
			o := lag + p.cfg.TargetDelay
			p.offset = o
			return Accepted, true
		}
	}
	return Accepted, p.pend.head == c.Seq
}

// room is how much more the delay may grow.
func (p *Playout) room() time.Duration {
	return max(0, p.cfg.MaxDelay-p.cfg.TargetDelay-p.grown)
}

// grow moves every deadline later when the chunk due next arrives after
// its deadline, so it plays now instead of being skipped or played out of
// step with the rest: the output pauses once, and the delay it takes to
// absorb such lateness is kept from then on (up to MaxDelay).
func (p *Playout) grow(c p2ptvd.Chunk, now time.Time) {
	late := now.Sub(p.due(c))
	if late <= 0 {
		return
	}
	by := min(late, p.room())
	if by <= 0 {
		return
	}
	p.offset += by
	p.grown += by
	p.st.stalls++
	p.log.Debug("playout delay grown for a late chunk", "seq", c.Seq, "by", by, "grown", p.grown)
}

// behind classifies a chunk below the playhead.
func (p *Playout) behind(seq uint64) PushResult {
	switch {
	case p.win.contains(seq):
		p.st.dups++
		return Duplicate
	case seq < p.st.startSeq:
		p.st.preStart++
		return BeforeStart
	default:
		p.st.late++
		return Late
	}
}

// hold keeps a chunk seen while seeking, in case a random-access chunk
// before it arrives next: the mesh reorders, and dropping it would put a
// gap right after the start. When full, the lowest Seq goes first.
func (p *Playout) hold(c p2ptvd.Chunk) PushResult {
	if len(p.held) >= p.cfg.MaxPending {
		low := c.Seq
		for s := range p.held {
			low = min(low, s)
		}
		p.st.preStart++
		if low == c.Seq {
			return BeforeStart
		}
		delete(p.held, low)
	}
	p.held[c.Seq] = c
	return Accepted
}

// start fixes the deadlines at random-access chunk c and moves the held
// chunks that follow it into pending.
func (p *Playout) start(c p2ptvd.Chunk, now time.Time) {
	first := !p.started
	if first {
		p.started = true
		p.st.startSeq = c.Seq
		p.startFound = now
	} else {
		// A resync: everything between the old playhead and c was due
		// and never played.
		p.st.missed += c.Seq - p.next
		p.disc = true
	}
	p.seeking = false
	p.next = c.Seq
	p.offset = now.Sub(complete(c)) + p.cfg.TargetDelay
	p.grown = 0
	p.lastProgress = now
	p.pend.reset()
	p.pend.put(c)
	for s, h := range p.held {
		switch {
		case s < c.Seq:
			if first {
				p.st.preStart++
			} // after a resync it is part of the skipped range
		case s-c.Seq >= uint64(p.cfg.MaxPending):
			p.st.refused++
		default:
			p.pend.put(h)
		}
	}
	clear(p.held)
	p.log.Info("playout started", "seq", c.Seq, "offset", p.offset)
}

// resync abandons the playhead after a stall: the mesh has moved on further
// than MaxPending, so the buffer seeks a random-access chunk at or after
// floor and restarts its deadlines there.
func (p *Playout) resync(floor uint64, now time.Time) {
	p.log.Warn("playout stalled, resynchronising", "seq", floor, "playhead", p.next,
		"stalled", now.Sub(p.lastProgress))
	p.st.resyncs++
	p.seeking = true
	p.floor = floor
	p.pend.reset()
}

func (p *Playout) due(c p2ptvd.Chunk) time.Time { return complete(c).Add(p.offset) }

// complete is when the source finished a chunk: the end of its media time.
// A live source cannot send a chunk before it ends, so arrival lags it by
// the network alone. Deadlines count from it, not from the chunk's start,
// so that chunks of different durations (short ones are cut before every
// keyframe) do not look like network jitter.
func complete(c p2ptvd.Chunk) time.Time { return c.Timestamp.Add(c.Duration) }

// Advance releases everything due at now and returns the next time
// something falls due (ok=false if nothing is pending).
func (p *Playout) Advance(now time.Time) (next time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.seeking || p.ended {
		return time.Time{}, false
	}
	released := false
	for p.pend.n > 0 {
		due := p.due(p.pend.peekHead())
		if p.pend.head > p.next && !due.After(now) {
			// The chunk due next is missing while a later one is due:
			// wait for it as long as the delay may still grow.
			if giveUp := due.Add(p.room()); giveUp.After(now) {
				due = giveUp
			}
		}
		if due.After(now) {
			if due.Sub(now) > p.cfg.TargetDelay+p.cfg.StallTimeout {
				// The source clock jumped forward (or the start chunk
				// was very stale): waiting would stall playout for longer
				// than a stall is allowed, so move every deadline so that
				// the head plays after the target delay, as at the start.
				h := p.pend.peekHead()
				p.offset = now.Sub(complete(h)) + p.cfg.TargetDelay
				p.st.reanchors++
				p.log.Warn("playout deadline too far ahead, re-anchoring", "seq", h.Seq, "wait", due.Sub(now))
			}
			break
		}
		p.release(p.pend.popHead(), now)
		released = true
		if p.ended {
			p.pend.reset()
			break
		}
	}
	if released && p.waited {
		close(p.wake)
		p.wake, p.waited = make(chan struct{}), false
	}
	if p.ended || p.pend.n == 0 {
		return time.Time{}, false
	}
	due := p.due(p.pend.peekHead())
	if p.pend.head > p.next && !due.After(now) {
		due = due.Add(p.room())
	}
	return due, true
}

func (p *Playout) release(c p2ptvd.Chunk, now time.Time) {
	e := Entry{Chunk: c, Released: now, Discontinuity: p.disc}
	p.disc = false
	if c.Seq > p.next {
		p.st.missed += c.Seq - p.next
		e.Discontinuity = true
		p.log.Debug("playout skipped", "seq", p.next, "count", c.Seq-p.next)
	}
	p.next = c.Seq + 1
	if p.st.released == 0 {
		p.firstRelease = now
	}
	p.st.released++
	p.lastProgress, p.lastTS = now, c.Timestamp
	abs := p.win.push(e)
	if c.Flags.Has(p2ptvd.RandomAccess) {
		p.rap, p.hasRAP = abs, true
	}
	// The newest entry always stays, so a reader waiting at the live edge
	// gets it even if it alone exceeds the limit.
	for p.win.bytes > p.cfg.WindowBytes && p.win.n > 1 {
		p.win.popFront()
	}
	if p.hasRAP && p.rap < p.win.base {
		p.hasRAP = false
	}
	if c.Flags.Has(p2ptvd.EndOfStream) {
		p.ended = true
		p.log.Info("playout reached end of stream", "seq", c.Seq)
	}
}

// Run calls Advance on time until ctx ends (it returns nil) or the buffer
// is closed (it returns ErrClosed).
func (p *Playout) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := p.Advance(p.now())
		var fire <-chan time.Time
		if ok {
			timer.Reset(next.Sub(p.now()))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.done:
			return ErrClosed
		case <-p.kick:
		case <-fire:
		}
	}
}

// Close ends the buffer: readers' Next and Run return ErrClosed and Push
// returns Closed. It does not wait for Run, whose caller owns it.
func (p *Playout) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.done)
	close(p.wake)
	p.pend.reset()
	clear(p.held)
}
