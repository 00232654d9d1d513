package media

import "math"

// noTime marks a packet whose media time is not known yet.
const noTime = math.MinInt64

const (
	ticksPerSecond = 27_000_000
	// maxJump is the largest forward step of the stream's clock taken as
	// media time passing; a larger one, or any step back, is a
	// discontinuity (the source restarted or was spliced).
	maxJump = 10 * ticksPerSecond
	// maxExtrapolate bounds how far packet times run on past the last
	// clock reference before they stop, waiting for the next one.
	maxExtrapolate = 2 * ticksPerSecond
)

// mediaClock gives every packet a media time in 27 MHz ticks on one
// continuous timeline. Clock references (PCRs, or video DTSs where the
// stream has no PCR) anchor it; between anchors, times run on by the byte
// rate of the last interval, so a packet's time is known when it arrives,
// without waiting for the next reference. Times never go back. A reference
// that jumps is re-anchored onto the running timeline, so that wraps,
// splices and restarts never make media time jump.
type mediaClock struct {
	have      bool
	anchorIdx int64   // packet index of the last reference
	anchorT   int64   // its time on the timeline
	lastRaw   int64   // its raw value
	rate      float64 // ticks per packet, 0 until two references
	interval  int64   // ticks between the last two references
	last      int64   // the last time handed out
	jumps     uint64
}

// ref records a clock reference raw (27 MHz, wrapping at pcrWrap) carried
// by packet idx. It reports a discontinuity.
func (c *mediaClock) ref(idx, raw int64, disc bool) bool {
	if !c.have {
		c.have = true
		c.anchorIdx, c.anchorT, c.lastRaw, c.last = idx, raw, raw, raw
		return false
	}
	d := (raw - c.lastRaw) % pcrWrap
	if d < 0 {
		d += pcrWrap
	}
	if d > pcrWrap/2 {
		d -= pcrWrap
	}
	jump := disc || d < 0 || d > maxJump
	var t int64
	if jump {
		// Carry on from where the timeline has got to.
		t = c.extrapolate(idx)
		c.jumps++
	} else {
		t = c.anchorT + d
		if n := idx - c.anchorIdx; n > 0 {
			c.rate = float64(t-c.anchorT) / float64(n)
			c.interval = d
		}
	}
	c.anchorIdx, c.anchorT, c.lastRaw = idx, t, raw
	return jump
}

// rebase makes raw, a reference from a different source than the ones
// before, the anchor for the current point of the timeline. It is not a
// discontinuity of the stream.
func (c *mediaClock) rebase(idx, raw int64) {
	if !c.have {
		c.ref(idx, raw, false)
		return
	}
	c.anchorT = c.extrapolate(idx)
	c.anchorIdx, c.lastRaw = idx, raw
	c.interval = 0
}

func (c *mediaClock) extrapolate(idx int64) int64 {
	t := c.anchorT
	if n := idx - c.anchorIdx; n > 0 && c.rate > 0 {
		// Muxers send references at a steady interval: run on no further
		// than where the next one is due, so that a packet is not placed
		// after the reference that follows it.
		limit := int64(maxExtrapolate)
		if c.interval > 0 {
			limit = min(limit, c.interval-1)
		}
		t += min(int64(c.rate*float64(n)), limit)
	}
	return max(t, c.last)
}

// at returns the media time of packet idx (indices ascend), or noTime
// before the first reference.
func (c *mediaClock) at(idx int64) int64 {
	if !c.have {
		return noTime
	}
	c.last = c.extrapolate(idx)
	return c.last
}

// step is the media time one packet takes at the current rate.
func (c *mediaClock) step() int64 { return int64(c.rate) }
