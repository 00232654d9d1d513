package media

import (
	"bytes"
	"slices"
	"testing"
)

// buildSection builds a long-form PSI section with a valid CRC.
func buildSection(table byte, ext uint16, body []byte) []byte {
	n := 5 + len(body) + 4 // after the length field: ext, version, numbers, body, CRC
	s := []byte{table, 0xB0 | byte(n>>8), byte(n), byte(ext >> 8), byte(ext), 0xC1, 0, 0}
	s = append(s, body...)
	crc := crc32MPEG(s)
	return append(s, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

func patSection(program, pmtPID uint16) []byte {
	return buildSection(tablePAT, 1, []byte{0, 0, 0xE0, 0x10, byte(program >> 8), byte(program), 0xE0 | byte(pmtPID>>8), byte(pmtPID)})
}

// pmtSection lists streams; info is the program_info descriptors.
func pmtSection(program, pcrPID uint16, info []byte, streams ...Stream) []byte {
	body := []byte{0xE0 | byte(pcrPID>>8), byte(pcrPID), 0xF0 | byte(len(info)>>8), byte(len(info))}
	body = append(body, info...)
	for _, s := range streams {
		body = append(body, s.Type, 0xE0|byte(s.PID>>8), byte(s.PID), 0xF0, 0)
	}
	return buildSection(tablePMT, program, body)
}

// psiPackets carries sections on pid: pointer_field 0, stuffing at the end.
func psiPackets(pid uint16, cc *uint8, secs ...[]byte) []Packet {
	data := append([]byte{0}, bytes.Join(secs, nil)...)
	var out []Packet
	for first := true; len(data) > 0; first = false {
		p := make(Packet, 188)
		p[0], p[1], p[2], p[3] = syncByte, byte(pid>>8)&0x1F, byte(pid), 0x10|*cc&0x0F
		if first {
			p[1] |= 0x40
		}
		*cc++
		n := copy(p[4:], data)
		data = data[n:]
		for i := 4 + n; i < 188; i++ {
			p[i] = 0xFF
		}
		out = append(out, p)
	}
	return out
}

func TestPSI(t *testing.T) {
	video := Stream{PID: 0x100, Type: 0x24}
	audio := Stream{PID: 0x101, Type: 0x0F}
	bigInfo := bytes.Repeat([]byte{0x05, 0x04, 'a', 'b', 'c', 'd'}, 60) // 360 bytes of descriptors: a PMT over 3 packets
	want := Program{Number: 7, PMTPID: 0x200, PCRPID: 0x100, Video: video, Streams: []Stream{audio, video}}
	badCRC := patSection(7, 0x200)
	badCRC[len(badCRC)-1] ^= 1

	for _, tc := range []struct {
		name  string
		pkts  func() []Packet
		known bool
		bad   uint64
	}{
		{"one packet each", func() []Packet {
			var cc0, cc1 uint8
			return slices.Concat(psiPackets(0, &cc0, patSection(7, 0x200)), psiPackets(0x200, &cc1, pmtSection(7, 0x100, nil, audio, video)))
		}, true, 0},
		{"PMT over three packets", func() []Packet {
			var cc0, cc1 uint8
			pmt := psiPackets(0x200, &cc1, pmtSection(7, 0x100, bigInfo, audio, video))
			if len(pmt) != 3 {
				t.Fatalf("PMT in %d packets", len(pmt))
			}
			return slices.Concat(psiPackets(0, &cc0, patSection(7, 0x200)), pmt)
		}, true, 0},
		{"PMT broken by a lost packet", func() []Packet {
			var cc0, cc1 uint8
			pmt := psiPackets(0x200, &cc1, pmtSection(7, 0x100, bigInfo, audio, video))
			return slices.Concat(psiPackets(0, &cc0, patSection(7, 0x200)), pmt[:1], pmt[2:])
		}, false, 0},
		{"bad CRC then good", func() []Packet {
			var cc0, cc1 uint8
			return slices.Concat(psiPackets(0, &cc0, badCRC), psiPackets(0x200, &cc1, pmtSection(7, 0x100, nil, audio, video)),
				psiPackets(0, &cc0, patSection(7, 0x200)), psiPackets(0x200, &cc1, pmtSection(7, 0x100, nil, audio, video)))
		}, true, 1},
		{"network PID first, two sections in a packet", func() []Packet {
			var cc0, cc1 uint8
			pat := buildSection(tablePAT, 1, []byte{0, 0, 0xE0, 0x10, 0, 7, 0xE2, 0x00})
			other := pmtSection(8, 0x100, nil, audio) // another program's PMT on the same PID comes first
			return slices.Concat(psiPackets(0, &cc0, pat), psiPackets(0x200, &cc1, other, pmtSection(7, 0x100, nil, audio, video)))
		}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newPSI()
			for _, p := range tc.pkts() {
				x.push(p)
			}
			if x.known != tc.known || x.bad != tc.bad {
				t.Fatalf("known %v, bad %d; want %v, %d", x.known, x.bad, tc.known, tc.bad)
			}
			if tc.known {
				if got := x.prog; !sameProgram(got, want) {
					t.Errorf("program %+v, want %+v", got, want)
				}
				pat, pmt := x.tables()
				if len(pat) != 188 || len(pmt)%188 != 0 || len(pmt) == 0 {
					t.Errorf("tables: %d and %d bytes", len(pat), len(pmt))
				}
			}
		})
	}
}

// TestCRC32MPEG checks the CRC against the PAT ffmpeg wrote.
func TestCRC32MPEG(t *testing.T) {
	p := packets(t, DemoClip())[1]
	if p.PID() != 0 {
		t.Fatal("packet 1 is not the PAT")
	}
	sec := p.Payload()[1:]
	n := 3 + (int(sec[1]&0x0F)<<8 | int(sec[2]))
	if got := crc32MPEG(sec[:n]); got != 0 {
		t.Errorf("CRC over ffmpeg's PAT with its CRC is %#x, want 0", got)
	}
	if got, want := crc32MPEG([]byte("123456789")), uint32(0x0376E6E7); got != want {
		t.Errorf("check value %#x, want %#x", got, want)
	}
}
