// Package buffer is the playout buffer of one channel: it takes the chunks
// the gossip mesh delivers (out of order, duplicated, late or never), puts
// them back in sequence order, holds them for a target delay, releases each
// on its deadline, skips what misses it, and fans the released chunks out to
// any number of readers (HTTP clients, stdout).
//
// It owns the playout schedule and the released history; it imports only
// the root domain types and the standard library, takes an injected clock,
// and has no wire formats of its own.
//
// # Start
//
// The buffer starts only at a random-access chunk (PAT+PMT+keyframe), so a
// player never gets a broken start. Until one arrives it holds the other
// chunks it sees (up to MaxPending, dropping the lowest Seq first), because
// the mesh reorders and the chunk after the start often arrives before it;
// when the start chunk arrives, held chunks before it are discarded and
// counted as BeforeStart, so are chunks with a lower Seq that arrive later.
//
// # Deadlines
//
// At the start chunk S, found at local time t, the buffer fixes
//
//	offset = (t − (S.Timestamp + S.Duration)) + TargetDelay
//
// and chunk s is due at s.Timestamp + s.Duration + offset: every chunk keeps
// the distance to the source clock the start chunk had, plus the target
// delay. Deadlines count from the end of a chunk's media time because a
// live source can only send a chunk once it is complete: measured from the
// end, arrival lags the source by the network alone, whereas measured from
// the start it would also vary with each chunk's duration (short chunks are
// cut before every keyframe) and eat the jitter margin. Chunks are
// released strictly in Seq order. The buffer looks only at the lowest
// pending chunk: when it falls due it is released, and if Seqs before it
// are missing they are skipped (counted as missed) and its entry is marked
// Discontinuity. A missing chunk is therefore given up only when a later
// chunk is due, never sooner. Chunks whose slot was released or skipped are
// dropped as late; copies of pending or released chunks as duplicates (a
// copy of a released chunk already evicted from the window counts as late).
// A chunk MaxPending or more Seqs ahead of the playhead is refused, so
// memory stays bounded whatever arrives. The end-of-stream chunk ends the
// stream once released: pending chunks are dropped and Push returns Ended.
//
// Until the first release the anchor follows the fastest arrival: a later
// chunk that arrives with less lag than the start chunk lowers the offset
// to its own lag + TargetDelay. A joiner's first chunks often come through
// IHAVE/IWANT gossip, up to a heartbeat late, before it is grafted into the
// mesh; anchoring on them would keep that lag in the delay for good.
//
// # Growing the delay
//
// A chunk that arrives after its deadline is not thrown away while the
// delay may still grow: when the chunk due next is missing and a later one
// falls due, the buffer waits for it (the output pauses) until the margin
// would exceed MaxDelay; when it arrives every deadline moves later by how
// late it was, so it plays now and the rest keep their spacing. The larger
// delay is kept (it never shrinks back), so a path that is late once does
// not make the output stutter again and again. Joining a gossipsub mesh is
// the common case: until the joiner is grafted, chunks reach it through
// IHAVE/IWANT gossip up to a heartbeat late, then through the mesh at once.
// A chunk still missing when MaxDelay is used up is skipped as below.
// DefaultMaxDelay is 4 s: on simulated home links under churn with 1%
// loss, every buffer grew to a 2 s cap, and past it 4–16% of the chunks
// were skipped (docs/PERFORMANCE.md); at 4 s 0.97–0.99 played, for 0.5–1.7
// s more delay where chunks come late and none where they do not.
//
// The continuity index is released ÷ (released + missed) since the start:
// the share of chunks played rather than skipped (a chunk the buffer paused
// for counts as played; Stalls counts the pauses).
//
// # Stalls
//
// Two recoveries keep a stall from lasting forever:
//
//   - Resync. If nothing has been released for StallTimeout and a chunk
//     arrives MaxPending or more Seqs ahead (the viewer was cut off and the
//     mesh moved on, or the source's Seqs jumped), the buffer drops what is
//     pending and seeks a random-access chunk at or after that Seq, exactly
//     as at the start: new offset, the Seqs in between counted as missed,
//     the first entry marked Discontinuity. Chunks below that Seq are late.
//     A fresh start at a random-access chunk gives the player a clean
//     picture at the cost of waiting up to one GOP.
//   - Re-anchor. If the lowest pending chunk falls due more than
//     TargetDelay + StallTimeout from now (the source clock jumped forward,
//     or the start chunk was very stale), the buffer moves every deadline so
//     that this chunk is due TargetDelay from now, as at the start. Seqs
//     missing before it are skipped when it falls due, as usual.
//
// A gap shorter than MaxPending needs neither: the first chunk after it is
// due about TargetDelay after it arrives and the gap is skipped then. The
// buffer trusts Seq and Timestamp, which the channel owner signs and the
// gossip validator keeps near the live edge: a source that restarts its
// Seqs from zero is a new stream, and its chunks are late here. A source
// clock that steps back makes chunks due at once; the buffer then plays
// them as they arrive, with no jitter margin, rather than add to the delay.
//
// # Readers
//
// Released chunks go into a window (the GOP cache) bounded by WindowBytes,
// which evicts the oldest first but always keeps the newest entry. NewReader
// starts a reader at the latest random-access chunk in the window, so the
// player gets PAT+PMT+keyframe at once; if there is none yet, the reader
// waits for the next one. Each reader has its own cursor, and the buffer
// never waits for a reader: a reader whose next entry was evicted jumps to
// the latest random-access chunk in the window (or waits for the next one),
// that entry is marked Discontinuity, and the overrun is counted. Next
// blocks until an entry is released, ctx ends, the reader or buffer closes
// (ErrClosed), or the reader has consumed the end-of-stream entry (io.EOF).
//
// # Goroutines
//
// The package starts none. The caller runs Run in a goroutine of its own; it
// is a thin loop that calls Advance when the earliest deadline passes or
// when Push signals a new earliest chunk, and returns when its ctx ends or
// the buffer closes. Push, Advance, NewReader, Stats and Close are safe from
// any goroutine; all state sits behind one mutex held only briefly, and
// blocked readers wait on a channel that each release closes.
//
// Byte counts charge a chunk its payload length, but at least one TS
// packet, so a flood of empty chunks is bounded too.
package buffer
