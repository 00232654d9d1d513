package media

import "github.com/p2ptv/p2ptvd"

// syncByte opens every TS packet.
const syncByte = 0x47

// nullPID carries stuffing packets, which have no continuity counter.
const nullPID = 0x1FFF

// Packet is one 188-byte TS packet. Its methods read fields in place, with
// no allocation; they tolerate a malformed packet (an adaptation field
// length that overruns the packet reads as "no payload") so that nothing
// here panics on hostile input. A Packet shorter than p2ptvd.PacketSize
// reports zero values.
type Packet []byte

func (p Packet) ok() bool { return len(p) >= p2ptvd.PacketSize && p[0] == syncByte }

// PID is the packet identifier.
func (p Packet) PID() uint16 {
	if !p.ok() {
		return nullPID
	}
	return uint16(p[1]&0x1F)<<8 | uint16(p[2])
}

// PUSI reports the payload_unit_start_indicator: a PES packet or a PSI
// section starts in this packet.
func (p Packet) PUSI() bool { return p.ok() && p[1]&0x40 != 0 }

// CC is the continuity counter.
func (p Packet) CC() uint8 {
	if !p.ok() {
		return 0
	}
	return p[3] & 0x0F
}

// HasPayload reports whether the adaptation_field_control says the packet
// carries a payload (and so advances the continuity counter).
func (p Packet) HasPayload() bool { return p.ok() && p[3]&0x10 != 0 }

// hasAF reports whether the packet has an adaptation field of length >= 1,
// that is one with a flags byte.
func (p Packet) hasAF() bool { return p.ok() && p[3]&0x20 != 0 && p[4] >= 1 }

// afFlags returns the adaptation field's flags byte, or 0.
func (p Packet) afFlags() byte {
	if !p.hasAF() {
		return 0
	}
	return p[5]
}

// RandomAccess reports the adaptation field's random_access_indicator.
func (p Packet) RandomAccess() bool { return p.afFlags()&0x40 != 0 }

// Discontinuity reports the adaptation field's discontinuity_indicator.
func (p Packet) Discontinuity() bool { return p.afFlags()&0x80 != 0 }

// PCR returns the program clock reference in 27 MHz ticks, if the packet
// carries one.
func (p Packet) PCR() (int64, bool) {
	if p.afFlags()&0x10 == 0 || p[4] < 7 {
		return 0, false
	}
	return readPCR(p[6:12]), true
}

// Payload returns the bytes after the header and adaptation field; nil if
// there are none or the adaptation field is malformed.
func (p Packet) Payload() []byte {
	if !p.HasPayload() {
		return nil
	}
	off := 4
	if p[3]&0x20 != 0 {
		off += 1 + int(p[4])
	}
	if off >= p2ptvd.PacketSize {
		return nil
	}
	return p[off:p2ptvd.PacketSize]
}

// pcrWrap is the period of the 42-bit PCR in 27 MHz ticks (2^33 * 300).
const pcrWrap = (1 << 33) * 300

// ptsWrap is the period of the 33-bit PTS/DTS in 90 kHz ticks.
const ptsWrap = 1 << 33

func readPCR(b []byte) int64 {
	base := int64(b[0])<<25 | int64(b[1])<<17 | int64(b[2])<<9 | int64(b[3])<<1 | int64(b[4])>>7
	ext := int64(b[4]&1)<<8 | int64(b[5])
	return base*300 + ext
}

// addPCR shifts the PCR stored in b by ticks90 (90 kHz), leaving the
// extension and reserved bits as they were.
func addPCR(b []byte, ticks90 int64) {
	base := int64(b[0])<<25 | int64(b[1])<<17 | int64(b[2])<<9 | int64(b[3])<<1 | int64(b[4])>>7
	base = (base + ticks90) & (ptsWrap - 1)
	b[0] = byte(base >> 25)
	b[1] = byte(base >> 17)
	b[2] = byte(base >> 9)
	b[3] = byte(base >> 1)
	b[4] = b[4]&0x7F | byte(base&1)<<7
}

// readTS reads a 5-byte PTS or DTS field.
func readTS(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// addTS shifts a 5-byte PTS or DTS field by ticks90, keeping its prefix
// and marker bits.
func addTS(b []byte, ticks90 int64) {
	v := (readTS(b) + ticks90) & (ptsWrap - 1)
	b[0] = b[0]&0xF1 | byte(v>>29)&0x0E
	b[1] = byte(v >> 22)
	b[2] = b[2]&0x01 | byte(v>>14)&0xFE
	b[3] = byte(v >> 7)
	b[4] = b[4]&0x01 | byte(v<<1)&0xFE
}

// pesTimestamps locates the PTS and DTS fields of a PES header at the start
// of payload: offsets into payload, or -1 when absent or not wholly in this
// payload.
func pesTimestamps(payload []byte) (pts, dts int) {
	pts, dts = -1, -1
	if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 || !pesHasHeader(payload[3]) {
		return
	}
	if payload[6]&0xC0 != 0x80 { // '10' marker of the optional header
		return
	}
	hdl := int(payload[8])
	switch payload[7] >> 6 {
	case 2:
		if hdl >= 5 && len(payload) >= 14 {
			pts = 9
		}
	case 3:
		if hdl >= 10 && len(payload) >= 19 {
			pts, dts = 9, 14
		}
	}
	return
}

// pesHasHeader reports whether a PES stream_id has the optional PES header
// (ISO/IEC 13818-1 table 2-21: not program_stream_map, padding,
// private_stream_2, ECM, EMM, DSM-CC, H.222.1 type E or directory).
func pesHasHeader(streamID byte) bool {
	switch streamID {
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF:
		return false
	}
	return true
}

// pesDTS returns the DTS of the PES starting in payload, or its PTS when it
// has no DTS.
func pesDTS(payload []byte) (int64, bool) {
	pts, dts := pesTimestamps(payload)
	switch {
	case dts >= 0:
		return readTS(payload[dts:]), true
	case pts >= 0:
		return readTS(payload[pts:]), true
	}
	return 0, false
}

// pesPTS returns the PTS of the PES starting in payload.
func pesPTS(payload []byte) (int64, bool) {
	pts, _ := pesTimestamps(payload)
	if pts < 0 {
		return 0, false
	}
	return readTS(payload[pts:]), true
}
