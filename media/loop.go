package media

// looper rewrites a file that is read over and over into one continuous
// stream: on every pass after the first it adds the loop period to every
// PCR, OPCR, PTS and DTS, and it shifts each PID's continuity counters so
// that they run on across the seam. The first pass is left as it is and
// measured to find the period.
type looper struct {
	pass   int64 // passes completed
	period int64 // 90 kHz ticks one pass adds

	gen    uint32 // seam number; a PID's counter offset is fixed at its first packet after a seam
	ccGen  [8192]uint32
	ccOff  [8192]uint8
	ccLast [8192]int8

	pcrFirst, pcrLast int64 // first pass, 90 kHz; pcrLast relative to pcrFirst
	pcrSeen           bool
	spans             map[uint16]*pesSpan
}

// pesSpan measures one elementary stream's timestamps over the first pass,
// in 90 kHz ticks relative to its first DTS.
type pesSpan struct {
	video     bool
	d0        int64 // first DTS (or PTS), raw
	p0        int64 // first PTS, relative
	lastDTS   int64
	maxPTS    int64
	lastDelta int64 // DTS step from the PES before the last one
	bytes     int   // payload bytes of the PES being read
	prevBytes int   // payload bytes of the PES before it
	n         int
}

func newLooper() *looper {
	l := &looper{spans: make(map[uint16]*pesSpan)}
	for i := range l.ccLast {
		l.ccLast[i] = -1
	}
	return l
}

// rewrite edits p in place.
func (l *looper) rewrite(p Packet, prog *Program) {
	pid := p.PID()
	if pid == nullPID {
		return
	}
	if l.pass == 0 {
		l.measure(p, prog)
	} else {
		l.shift(p, prog, l.pass*l.period)
	}
	if l.ccGen[pid] != l.gen {
		l.ccGen[pid] = l.gen
		if last := l.ccLast[pid]; last >= 0 {
			want := uint8(last)
			if p.HasPayload() {
				want++
			}
			l.ccOff[pid] = (want - p.CC()) & 0x0F
		}
	}
	cc := (p.CC() + l.ccOff[pid]) & 0x0F
	p[3] = p[3]&0xF0 | cc
	l.ccLast[pid] = int8(cc)
}

// seam is called when the input is read again from the start.
func (l *looper) seam() {
	if l.pass == 0 {
		l.period = l.measuredPeriod()
	}
	l.pass++
	l.gen++
}

func isStream(prog *Program, pid uint16) (Stream, bool) {
	for _, s := range prog.Streams {
		if s.PID == pid {
			return s, true
		}
	}
	return Stream{}, false
}

func (l *looper) measure(p Packet, prog *Program) {
	if pcr, ok := p.PCR(); ok && p.PID() == prog.PCRPID {
		v := pcr / 300
		if !l.pcrSeen {
			l.pcrSeen, l.pcrFirst = true, v
		}
		l.pcrLast = (v - l.pcrFirst) & (ptsWrap - 1)
	}
	st, ok := isStream(prog, p.PID())
	if !ok {
		return
	}
	payload := p.Payload()
	sp := l.spans[st.PID]
	if p.PUSI() {
		dts, okD := pesDTS(payload)
		pts, okP := pesPTS(payload)
		if okD {
			if sp == nil {
				sp = &pesSpan{video: st.PID == prog.Video.PID, d0: dts}
				if okP {
					sp.p0 = (pts - dts) & (ptsWrap - 1)
				}
				l.spans[st.PID] = sp
			}
			d := (dts - sp.d0) & (ptsWrap - 1)
			if sp.n > 0 {
				sp.lastDelta = d - sp.lastDTS
			}
			sp.lastDTS = d
			if okP {
				sp.maxPTS = max(sp.maxPTS, (pts-sp.d0)&(ptsWrap-1))
			}
			sp.prevBytes, sp.bytes = sp.bytes, 0
			sp.n++
		}
	}
	if sp != nil {
		sp.bytes += len(payload)
	}
}

// measuredPeriod is the smallest shift that puts the second pass after the
// first in every stream: each stream's first DTS and PTS come one frame
// after its last, and the PCR moves on. The last PES's duration is the DTS
// step before it for video (one frame per PES), and for other streams (an
// audio PES holds several frames) that step scaled by the PES's size.
func (l *looper) measuredPeriod() int64 {
	period := int64(1)
	if l.pcrSeen {
		period = max(period, l.pcrLast+1)
	}
	for _, sp := range l.spans {
		dur := sp.lastDelta
		if !sp.video && sp.prevBytes > 0 {
			dur = sp.lastDelta * int64(sp.bytes) / int64(sp.prevBytes)
		}
		dur = max(dur, 1)
		period = max(period, sp.lastDTS+dur, sp.maxPTS+dur-sp.p0)
	}
	return period
}

func (l *looper) shift(p Packet, prog *Program, off int64) {
	if p.hasAF() {
		flags, n := p[5], int(p[4])
		at := 6
		if flags&0x10 != 0 && n >= 7 { // PCR
			addPCR(p[at:at+6], off)
			at += 6
		}
		if flags&0x08 != 0 && 5+n >= at+6 { // OPCR
			addPCR(p[at:at+6], off)
		}
	}
	if !p.PUSI() {
		return
	}
	if _, ok := isStream(prog, p.PID()); !ok {
		return
	}
	payload := p.Payload()
	pts, dts := pesTimestamps(payload)
	if pts >= 0 {
		addTS(payload[pts:], off)
	}
	if dts >= 0 {
		addTS(payload[dts:], off)
	}
}
