package media

import (
	"time"

	"github.com/p2ptv/p2ptvd"
)

// ChunkerConfig bounds chunks. The zero value is usable.
type ChunkerConfig struct {
	MaxBytes    int           // 0 = 64 KiB; rounded down to whole packets, at least minChunkPackets
	MaxDuration time.Duration // 0 = 500ms
}

const (
	defaultMaxBytes    = 64 << 10
	defaultMaxDuration = 500 * time.Millisecond
	// minChunkPackets keeps room for prepended tables plus the start of a
	// keyframe found by scanning, so that one Push completes at most one
	// chunk.
	minChunkPackets = 32
)

const (
	timingNone = iota
	timingPCR
	timingDTS
)

func (c ChunkerConfig) withDefaults() ChunkerConfig {
	if c.MaxBytes <= 0 {
		c.MaxBytes = defaultMaxBytes
	}
	c.MaxBytes = max(c.MaxBytes/p2ptvd.PacketSize, minChunkPackets) * p2ptvd.PacketSize
	if c.MaxDuration <= 0 {
		c.MaxDuration = defaultMaxDuration
	}
	return c
}

// Chunker cuts a stream of TS packets into chunks (see the package doc for
// the rules). It reads the PAT and PMT itself. It is not safe for
// concurrent use.
type Chunker struct {
	cfg    ChunkerConfig
	maxDur int64 // ticks
	epoch  time.Time

	psi      *psi
	videoPID int // -1 none
	codec    codec
	clock    mediaClock
	timing   int8 // timingNone, timingPCR or timingDTS
	scan     esScanner
	cc       [8192]int8
	idx      int64

	// The chunk being built.
	buf   []byte
	times []int64 // media time of each packet in buf; noTime if unknown
	start int64   // media time the chunk starts at; noTime until known
	flags p2ptvd.Flags
	seq   uint64
	first int64 // media time of the stream's start (chunk 0); noTime until known

	// Where, in buf, a random-access cut may go.
	tabPos     int  // a PAT packet followed only by non-video packets; -1 none
	tabPMT     bool // a PMT packet follows tabPos
	pesPos     int  // the start of the current video PES; -1 if not in buf
	pesGroup   int  // where a cut for that PES goes (tabPos or pesPos)
	pesNatural bool // pesGroup is a PAT followed by a PMT
	pesRAP     bool // the current PES was already taken as a random-access point
	raiPending bool // RAI seen on the video PID, waiting for a PES start

	stats Stats
}

// NewChunker returns a Chunker whose chunk timestamps count from epoch:
// chunk 0's Timestamp is epoch and later ones are epoch plus the media
// time since. A stream with no usable clock gives chunks a zero Timestamp.
func NewChunker(cfg ChunkerConfig, epoch time.Time) *Chunker {
	cfg = cfg.withDefaults()
	c := &Chunker{
		cfg:      cfg,
		maxDur:   int64(cfg.MaxDuration) * ticksPerSecond / int64(time.Second),
		epoch:    epoch,
		psi:      newPSI(),
		videoPID: -1,
		start:    noTime,
		first:    noTime,
		tabPos:   -1,
		pesPos:   -1,
		buf:      make([]byte, 0, cfg.MaxBytes),
		times:    make([]int64, 0, cfg.MaxBytes/p2ptvd.PacketSize),
	}
	for i := range c.cc {
		c.cc[i] = -1
	}
	return c
}

// Program returns what the chunker has read of the PAT and PMT, and
// whether it has read a PMT.
func (c *Chunker) Program() (Program, bool) { return c.psi.prog, c.psi.known }

// Stats returns the chunker's counters: Chunks, RandomAccessChunks,
// TablesPrepended, MissedRandomAccess, BadSections, CCErrors and
// Discontinuities.
func (c *Chunker) Stats() Stats {
	s := c.stats
	s.BadSections = c.psi.bad
	s.Discontinuities = c.clock.jumps
	return s
}

// Push adds one packet. When the packet completes a chunk, Push returns it
// (the packet itself then belongs to the next chunk). Packets that are not
// 188 bytes starting with the sync byte are ignored. pkt is copied.
func (c *Chunker) Push(pkt []byte) (p2ptvd.Chunk, bool) {
	p := Packet(pkt)
	if len(p) != p2ptvd.PacketSize || p[0] != syncByte {
		return p2ptvd.Chunk{}, false
	}
	c.idx++
	pid := p.PID()
	c.checkCC(p)
	c.psi.push(p)
	if c.psi.changed {
		c.programChanged()
	}
	isVideo := c.videoPID >= 0 && int(pid) == c.videoPID
	jump := c.observeTime(p, isVideo)
	t := c.clock.at(c.idx)
	if t != noTime && c.first == noTime {
		c.first = t
	}

	// A random-access point: RAI on the video PID (at the PES it marks),
	// or a keyframe found by scanning the PES.
	rapCut := -1
	if isVideo {
		if p.RandomAccess() {
			c.raiPending = true
		}
		if p.PUSI() {
			c.pesPos = -1
			c.pesRAP = c.raiPending
			c.raiPending = false
			if c.scan.start(c.codec, p.Payload()) {
				c.pesRAP = true
			}
			if c.pesRAP {
				rapCut = len(c.buf)
			}
		} else if !c.pesRAP && c.scan.feed(p.Payload()) {
			c.pesRAP = true
			if c.pesPos >= 0 {
				rapCut = c.pesPos
			} else {
				c.stats.MissedRandomAccess++
			}
		}
	}

	var out p2ptvd.Chunk
	var emitted, handled bool
	if rapCut >= 0 {
		out, emitted, handled = c.cutRAP(rapCut, t)
	}
	if !handled && c.overBudget(t) {
		pos := len(c.buf)
		if c.tabPos > 0 && len(c.buf)-c.tabPos+p2ptvd.PacketSize <= c.cfg.MaxBytes {
			pos = c.tabPos // keep PAT+PMT with what follows them
		}
		out, emitted = c.cut(pos, c.timeAt(pos, t))
	}
	c.appendPacket(p, t, isVideo)
	if jump {
		c.flags |= p2ptvd.Discontinuity
	}
	return out, emitted
}

// Flush completes the chunk being built, if it has any packets. Its
// duration runs to one packet past its last packet's time.
func (c *Chunker) Flush() (p2ptvd.Chunk, bool) {
	if len(c.buf) == 0 {
		return p2ptvd.Chunk{}, false
	}
	end := int64(noTime)
	for i := len(c.times) - 1; i >= 0; i-- {
		if c.times[i] != noTime {
			end = c.times[i] + c.clock.step()
			break
		}
	}
	return c.cut(len(c.buf), end)
}

func (c *Chunker) programChanged() {
	prog := c.psi.prog
	vid := -1
	if c.psi.known && prog.HasVideo() {
		vid = int(prog.Video.PID)
	}
	if vid != c.videoPID {
		c.videoPID = vid
		c.codec = codecOf(prog.Video.Type)
		c.scan = esScanner{}
		c.raiPending, c.pesRAP = false, false
		c.pesPos = -1
	}
}

func (c *Chunker) checkCC(p Packet) {
	pid := p.PID()
	if pid == nullPID {
		return
	}
	cc := int8(p.CC())
	last := c.cc[pid]
	c.cc[pid] = cc
	if last < 0 || p.Discontinuity() {
		return
	}
	if p.HasPayload() {
		if cc != (last+1)&0x0F && cc != last { // cc == last: a duplicate packet
			c.stats.CCErrors++
		}
	} else if cc != last {
		c.stats.CCErrors++
	}
}

// observeTime feeds the packet's clock reference, if any, to the media
// clock. The stream is timed by PCR. Until the first PCR, and for good if
// the program has none, video DTSs stand in; the switch to PCR carries the
// timeline on where it had got to rather than jumping.
func (c *Chunker) observeTime(p Packet, isVideo bool) (jump bool) {
	if pcr, ok := p.PCR(); ok && (!c.psi.known || p.PID() == c.psi.prog.PCRPID) {
		if c.timing == timingDTS {
			c.clock.rebase(c.idx, pcr)
			c.timing = timingPCR
			return false
		}
		c.timing = timingPCR
		return c.clock.ref(c.idx, pcr, p.Discontinuity())
	}
	if !isVideo || !p.PUSI() || c.timing == timingPCR {
		return false
	}
	dts, ok := pesDTS(p.Payload())
	if !ok {
		return false
	}
	c.timing = timingDTS
	return c.clock.ref(c.idx, dts*300, p.Discontinuity())
}

// overBudget reports whether the packet at media time t must start a new
// chunk for the current one to stay within MaxBytes and MaxDuration.
func (c *Chunker) overBudget(t int64) bool {
	if len(c.buf) == 0 {
		return false
	}
	if len(c.buf)+p2ptvd.PacketSize > c.cfg.MaxBytes {
		return true
	}
	return t != noTime && c.start != noTime && t-c.start > c.maxDur
}

// cutRAP cuts for a random-access point whose PES starts at byte pos of
// buf: before the PAT and PMT that lead into it if there are, else at pos,
// prepending copies of the latest PAT and PMT. The new chunk starts at the
// keyframe's media time, not its PAT's: keyframes (and the PCRs muxers put
// on them) fall on the GOP's regular grid, so duration cuts between them
// come out even instead of leaving a sliver of a chunk before each PAT.
//
// It reports false, having done nothing, if the new chunk would not fit
// the budget: the keyframe's PES began too long ago to move it into a
// chunk of its own with the tables.
func (c *Chunker) cutRAP(pos int, t int64) (out p2ptvd.Chunk, emitted, ok bool) {
	group, natural := pos, false
	if pos == len(c.buf) {
		if c.tabPos >= 0 && c.tabPMT {
			group, natural = c.tabPos, true
		}
	} else if pos == c.pesPos {
		group, natural = c.pesGroup, c.pesNatural
	}
	var pat, pmt []byte
	if !natural {
		pat, pmt = c.psi.tables()
	}
	if len(pat)+len(pmt)+len(c.buf)-group+p2ptvd.PacketSize > c.cfg.MaxBytes {
		c.stats.MissedRandomAccess++
		return p2ptvd.Chunk{}, false, false
	}
	out, emitted = c.cut(group, c.timeAt(pos, t))
	if !natural && pat != nil {
		c.prepend(pat, pmt)
		c.stats.TablesPrepended++
	}
	if natural || pat != nil {
		c.flags |= p2ptvd.RandomAccess
	}
	return out, emitted, true
}

// timeAt returns the media time of the packet at byte pos of buf, or of
// the first timed one after it, or t (the time of the packet being pushed).
func (c *Chunker) timeAt(pos int, t int64) int64 {
	for _, tt := range c.times[pos/p2ptvd.PacketSize:] {
		if tt != noTime {
			return tt
		}
	}
	return t
}

// cut completes the chunk made of buf[:pos], if pos > 0, ending at media
// time end, and keeps the rest of buf as the start of the next chunk.
func (c *Chunker) cut(pos int, end int64) (p2ptvd.Chunk, bool) {
	if pos <= 0 {
		return p2ptvd.Chunk{}, false
	}
	start := c.start
	if start == noTime {
		start = end
	}
	if end != noTime {
		end = min(max(end, start), start+c.maxDur)
	}
	ch := p2ptvd.Chunk{
		Seq:     c.seq,
		Flags:   c.flags,
		Payload: append([]byte(nil), c.buf[:pos]...),
	}
	if start != noTime && c.first != noTime {
		// Both from the stream's start, so that each chunk's Timestamp is
		// exactly the previous one's plus its Duration.
		from := ticksToDuration(start - c.first)
		ch.Timestamp = c.epoch.Add(from)
		ch.Duration = ticksToDuration(end-c.first) - from
	}
	c.seq++
	c.stats.Chunks++
	if ch.Flags.Has(p2ptvd.RandomAccess) {
		c.stats.RandomAccessChunks++
	}

	n := copy(c.buf, c.buf[pos:])
	c.buf = c.buf[:n]
	m := copy(c.times, c.times[pos/p2ptvd.PacketSize:])
	c.times = c.times[:m]
	c.start = end
	c.flags = 0
	c.tabPos = shift(c.tabPos, pos)
	c.pesPos = shift(c.pesPos, pos)
	c.pesGroup = shift(c.pesGroup, pos)
	if c.pesGroup < 0 {
		c.pesGroup, c.pesNatural = c.pesPos, false
	}
	return ch, true
}

func shift(off, by int) int {
	if off < 0 || off < by {
		return -1
	}
	return off - by
}

// prepend puts copies of the PAT and PMT packets at the front of the chunk
// being built. An exact copy of a PID's latest packet is a legal duplicate
// (same continuity counter), so a player that already follows the stream
// drops it and one that starts here reads the tables.
func (c *Chunker) prepend(pat, pmt []byte) {
	n := len(pat) + len(pmt)
	old := len(c.buf)
	c.buf = c.buf[:old+n]
	copy(c.buf[n:], c.buf[:old])
	copy(c.buf, pat)
	copy(c.buf[len(pat):], pmt)
	k := n / p2ptvd.PacketSize
	oldT := len(c.times)
	for range k {
		c.times = append(c.times, noTime)
	}
	copy(c.times[k:], c.times[:oldT])
	for i := range k {
		c.times[i] = noTime
	}
	for _, off := range []*int{&c.tabPos, &c.pesPos, &c.pesGroup} {
		if *off >= 0 {
			*off += n
		}
	}
}

func (c *Chunker) appendPacket(p Packet, t int64, isVideo bool) {
	pos := len(c.buf)
	c.buf = append(c.buf, p...)
	c.times = append(c.times, t)
	if c.start == noTime && t != noTime {
		c.start = t
	}
	pid := p.PID()
	switch {
	case pid == 0 && p.PUSI():
		c.tabPos, c.tabPMT = pos, false
	case c.psi.prog.PMTPID != 0 && pid == c.psi.prog.PMTPID && p.PUSI():
		if c.tabPos >= 0 {
			c.tabPMT = true
		}
	case isVideo:
		if p.PUSI() {
			c.pesPos = pos
			c.pesGroup, c.pesNatural = pos, false
			if c.tabPos >= 0 && c.tabPMT {
				c.pesGroup, c.pesNatural = c.tabPos, true
			}
		}
		c.tabPos = -1
	}
}

func ticksToDuration(t int64) time.Duration {
	return time.Duration(t * 1000 / 27) // 27 MHz ticks to ns without overflow for 10 years
}
