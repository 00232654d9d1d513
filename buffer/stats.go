package buffer

import "time"

// Stats is a snapshot of the buffer's state and counters.
type Stats struct {
	Started bool // a random-access chunk has been found
	Ended   bool // the end-of-stream chunk has been released

	// StartupTime is from the first Push to the first release; RAPWait is
	// from the first Push to finding the chunk the buffer started at. Both
	// are zero until they happen.
	StartupTime time.Duration
	RAPWait     time.Duration

	StartSeq uint64 // the Seq the buffer started at
	NextSeq  uint64 // the playhead: the next Seq to release

	Released    uint64 // chunks released to readers
	Missed      uint64 // Seqs skipped because they missed their deadline
	Due         uint64 // Released + Missed
	Late        uint64 // chunks that arrived after their slot was released or skipped
	Duplicates  uint64 // chunks already pending or released
	Refused     uint64 // chunks too far ahead of the playhead
	BeforeStart uint64 // chunks before the start chunk, discarded
	Resyncs     uint64 // restarts at a random-access chunk after a stall
	Reanchors   uint64 // deadlines moved because they had run too far ahead
	Stalls      uint64 // times the output paused for a late chunk (the delay grew)

	// Grown is how much the delay has grown for late chunks since the
	// start (at most MaxDelay − TargetDelay).
	Grown time.Duration

	Pending      int // chunks held for release (or held while seeking a start)
	PendingBytes int
	WindowChunks int // released chunks kept for new and slow readers
	WindowBytes  int

	Readers  int    // open readers
	Overruns uint64 // times a slow reader lost its place and jumped

	// Delay is local now minus the source timestamp of the last released
	// chunk: how far behind the source the player is.
	Delay time.Duration
	// Continuity is Released / Due: the share of chunks played rather than
	// skipped. A chunk the buffer waited for (a stall) counts as played;
	// Stalls counts those pauses. It is 0 until something falls due.
	Continuity float64
}

// Byte counts in Stats and the limits charge a chunk its payload length,
// but at least one TS packet.

// Stats returns a snapshot.
func (p *Playout) Stats() Stats {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{
		Started:      p.started,
		Ended:        p.ended,
		StartSeq:     p.st.startSeq,
		NextSeq:      p.next,
		Released:     p.st.released,
		Missed:       p.st.missed,
		Due:          p.st.released + p.st.missed,
		Late:         p.st.late,
		Duplicates:   p.st.dups,
		Refused:      p.st.refused,
		BeforeStart:  p.st.preStart,
		Resyncs:      p.st.resyncs,
		Reanchors:    p.st.reanchors,
		Stalls:       p.st.stalls,
		Grown:        p.grown,
		Pending:      p.pend.n + len(p.held),
		PendingBytes: p.pend.bytes,
		WindowChunks: p.win.n,
		WindowBytes:  p.win.bytes,
		Readers:      p.readers,
		Overruns:     p.st.overruns,
	}
	for _, c := range p.held {
		s.PendingBytes += cost(c)
	}
	if p.started {
		s.RAPWait = p.startFound.Sub(p.firstPush)
	}
	if p.st.released > 0 {
		s.StartupTime = p.firstRelease.Sub(p.firstPush)
		s.Delay = now.Sub(p.lastTS)
	}
	if s.Due > 0 {
		s.Continuity = float64(s.Released) / float64(s.Due)
	}
	return s
}
