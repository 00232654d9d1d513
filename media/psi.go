package media

// Stream is one elementary stream of a program, from the PMT.
type Stream struct {
	PID  uint16
	Type uint8 // stream_type, e.g. 0x1B H.264, 0x24 HEVC, 0x0F AAC
}

// Program is what the PAT and PMT say about the first program of a stream.
type Program struct {
	Number uint16 // program_number
	PMTPID uint16
	PCRPID uint16 // 0x1FFF when the program has no PCR
	// Video is the first video stream; its Type is 0 when there is none.
	Video   Stream
	Streams []Stream
}

// HasVideo reports whether the program has a video stream.
func (p Program) HasVideo() bool { return p.Video.Type != 0 }

// isVideoType reports whether a PMT stream_type is video.
func isVideoType(t uint8) bool {
	switch t {
	case 0x01, // MPEG-1 video
		0x02, // MPEG-2 video
		0x10, // MPEG-4 part 2
		0x1B, // H.264
		0x1F, // H.264 SVC
		0x20, // H.264 MVC
		0x24, // HEVC
		0x33, // VVC
		0x42, // AVS
		0xD1, // Dirac
		0xEA: // VC-1
		return true
	}
	return false
}

const (
	tablePAT = 0x00
	tablePMT = 0x02
	// maxSection is the largest PAT/PMT section: 3 header bytes plus the
	// 1021 a section_length may say.
	maxSection = 3 + 1021
)

// crcTable is the CRC-32/MPEG-2 table (polynomial 0x04C11DB7, not
// reflected). It is computed once and never written after.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc32MPEG returns the CRC-32/MPEG-2 of b; over a whole section including
// its CRC field it is 0.
func crc32MPEG(b []byte) uint32 {
	c := uint32(0xFFFFFFFF)
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^x]
	}
	return c
}

// section reassembles the PSI sections of one PID. Sections that span
// packets are joined while the continuity counter runs on; one that
// breaks off is dropped.
type section struct {
	buf    []byte   // the section so far
	raw    []byte   // the packets that carried it, for copies
	active bool     // a section is being assembled
	lastCC int8     // -1 unknown
	done   [][]byte // sections completed by the last push (views into scratch)
	scrat  []byte
	rawOut []byte // raw packets of the last completed section
}

func newSection() *section { return &section{lastCC: -1} }

// push feeds a packet of the PID and returns the sections it completes.
// A returned section is valid until the next push.
func (s *section) push(p Packet) [][]byte {
	s.done = s.done[:0]
	s.scrat = s.scrat[:0]
	payload := p.Payload()
	if payload == nil {
		return nil
	}
	cc := int8(p.CC())
	if s.active && !p.PUSI() && s.lastCC >= 0 && cc != (s.lastCC+1)&0x0F {
		s.active = false // a lost packet broke the section
	}
	s.lastCC = cc
	if p.PUSI() {
		ptr := int(payload[0])
		payload = payload[1:]
		if ptr > len(payload) {
			s.active = false
			return nil
		}
		if s.active {
			s.raw = append(s.raw, p...)
			s.add(payload[:ptr])
		}
		s.active = false
		s.raw = append(s.raw[:0], p...)
		s.sections(payload[ptr:])
		return s.done
	}
	if s.active {
		s.raw = append(s.raw, p...)
		s.add(payload)
	}
	return s.done
}

// add appends to the section being assembled and completes it if whole.
func (s *section) add(b []byte) {
	s.buf = append(s.buf, b...)
	if len(s.buf) >= 3 {
		n := 3 + (int(s.buf[1]&0x0F)<<8 | int(s.buf[2]))
		if n > maxSection {
			s.active = false
			return
		}
		if len(s.buf) >= n {
			s.complete(s.buf[:n])
			s.active = false
		}
	}
}

// sections reads the sections that start in b, keeping a trailing partial
// one for the following packets.
func (s *section) sections(b []byte) {
	for len(b) > 0 && b[0] != 0xFF {
		if len(b) < 3 {
			s.buf = append(s.buf[:0], b...)
			s.active = true
			return
		}
		n := 3 + (int(b[1]&0x0F)<<8 | int(b[2]))
		if n > maxSection {
			return
		}
		if len(b) < n {
			s.buf = append(s.buf[:0], b...)
			s.active = true
			return
		}
		s.complete(b[:n])
		b = b[n:]
	}
}

func (s *section) complete(sec []byte) {
	off := len(s.scrat)
	s.scrat = append(s.scrat, sec...)
	s.done = append(s.done, s.scrat[off:len(s.scrat):len(s.scrat)])
	s.rawOut = append(s.rawOut[:0], s.raw...)
}

// psi follows the PAT and the PMT of the first program.
type psi struct {
	pat, pmt *section
	prog     Program
	known    bool // a PMT has been read
	bad      uint64
	patPkts  []byte // raw packets of the latest good PAT
	pmtPkts  []byte // raw packets of the latest good PMT
	changed  bool   // prog changed in the last push
}

func newPSI() *psi { return &psi{pat: newSection(), pmt: newSection()} }

// push feeds one packet; it looks only at PID 0 and the PMT PID.
func (x *psi) push(p Packet) {
	x.changed = false
	pid := p.PID()
	switch {
	case pid == 0:
		for _, sec := range x.pat.push(p) {
			x.readPAT(sec)
		}
	case x.prog.PMTPID != 0 && pid == x.prog.PMTPID:
		for _, sec := range x.pmt.push(p) {
			x.readPMT(sec)
		}
	}
}

// check validates a long-form section's header and CRC; it returns the
// section's body (after the 8-byte header, before the CRC).
func (x *psi) check(sec []byte, table byte) ([]byte, bool) {
	if len(sec) < 12 || sec[0] != table || sec[1]&0x80 == 0 || crc32MPEG(sec) != 0 {
		x.bad++
		return nil, false
	}
	if sec[5]&0x01 == 0 { // current_next_indicator: not yet applicable
		return nil, false
	}
	return sec[8 : len(sec)-4], true
}

func (x *psi) readPAT(sec []byte) {
	body, ok := x.check(sec, tablePAT)
	if !ok {
		return
	}
	if len(body)%4 != 0 {
		x.bad++
		return
	}
	for i := 0; i+4 <= len(body); i += 4 {
		num := uint16(body[i])<<8 | uint16(body[i+1])
		pid := uint16(body[i+2]&0x1F)<<8 | uint16(body[i+3])
		if num == 0 { // network PID
			continue
		}
		x.patPkts = append(x.patPkts[:0], x.pat.rawOut...)
		if num != x.prog.Number || pid != x.prog.PMTPID {
			x.prog = Program{Number: num, PMTPID: pid, PCRPID: nullPID}
			x.known = false
			x.pmtPkts = x.pmtPkts[:0]
			x.pmt = newSection()
			x.changed = true
		}
		return
	}
}

func (x *psi) readPMT(sec []byte) {
	body, ok := x.check(sec, tablePMT)
	if !ok {
		return
	}
	if num := uint16(sec[3])<<8 | uint16(sec[4]); num != x.prog.Number {
		return // another program's PMT on the same PID
	}
	if len(body) < 4 {
		x.bad++
		return
	}
	prog := Program{Number: x.prog.Number, PMTPID: x.prog.PMTPID}
	prog.PCRPID = uint16(body[0]&0x1F)<<8 | uint16(body[1])
	info := int(body[2]&0x0F)<<8 | int(body[3])
	es := body[4:]
	if info > len(es) {
		x.bad++
		return
	}
	es = es[info:]
	for len(es) > 0 {
		if len(es) < 5 {
			x.bad++
			return
		}
		st := Stream{Type: es[0], PID: uint16(es[1]&0x1F)<<8 | uint16(es[2])}
		n := 5 + (int(es[3]&0x0F)<<8 | int(es[4]))
		if n > len(es) {
			x.bad++
			return
		}
		prog.Streams = append(prog.Streams, st)
		if prog.Video.Type == 0 && isVideoType(st.Type) {
			prog.Video = st
		}
		es = es[n:]
	}
	x.pmtPkts = append(x.pmtPkts[:0], x.pmt.rawOut...)
	if !x.known || !sameProgram(prog, x.prog) {
		x.changed = true
	}
	x.prog = prog
	x.known = true
}

func sameProgram(a, b Program) bool {
	if a.Number != b.Number || a.PMTPID != b.PMTPID || a.PCRPID != b.PCRPID || a.Video != b.Video || len(a.Streams) != len(b.Streams) {
		return false
	}
	for i := range a.Streams {
		if a.Streams[i] != b.Streams[i] {
			return false
		}
	}
	return true
}

// tables returns the raw packets of the latest good PAT and PMT, or nil if
// either is missing.
func (x *psi) tables() (pat, pmt []byte) {
	if !x.known || len(x.patPkts) == 0 || len(x.pmtPkts) == 0 {
		return nil, nil
	}
	return x.patPkts, x.pmtPkts
}
