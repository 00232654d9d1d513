package media

// codec says how to recognise a random-access point inside a video
// elementary stream.
type codec uint8

const (
	codecOther codec = iota // RAI only
	codecH264
	codecHEVC
	codecMPEG2
)

func codecOf(streamType uint8) codec {
	switch streamType {
	case 0x1B, 0x1F, 0x20:
		return codecH264
	case 0x24:
		return codecHEVC
	case 0x01, 0x02:
		return codecMPEG2
	}
	return codecOther
}

// maxScanPackets bounds how many packets of one PES the scanner reads
// looking for the first picture. x264 puts a ~700-byte SEI before the first
// IDR, so a few packets are needed; a picture that starts later than this
// is not worth the CPU.
const maxScanPackets = 16

// esScanner finds out whether a video PES starts with a random-access
// picture (H.264 IDR, HEVC IRAP, MPEG-2 sequence header) by reading NAL
// start codes until the first picture, across packet boundaries. It is the
// fallback for streams whose muxer does not set the random_access_indicator.
type esScanner struct {
	codec   codec
	active  bool
	skip    int  // PES header bytes still to skip
	zeros   int  // zero bytes just seen
	header  bool // the next byte is a NAL header (a start code just ended)
	packets int
}

// start begins a PES: payload is the first packet's payload. It reports
// whether the PES is already known to be a random-access point.
func (s *esScanner) start(c codec, payload []byte) bool {
	*s = esScanner{codec: c}
	if c == codecOther || len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
		return false
	}
	s.active = true
	if pesHasHeader(payload[3]) {
		s.skip = 9 + int(payload[8])
	} else {
		s.skip = 6
	}
	return s.feed(payload)
}

// feed reads the next payload of the PES; true when a random-access
// picture is found.
func (s *esScanner) feed(payload []byte) bool {
	if !s.active {
		return false
	}
	if s.packets++; s.packets > maxScanPackets {
		s.active = false
		return false
	}
	if s.skip >= len(payload) {
		s.skip -= len(payload)
		return false
	}
	payload = payload[s.skip:]
	s.skip = 0
	for _, b := range payload {
		if s.header {
			s.header = false
			rap, picture := s.classify(b)
			if rap || picture {
				s.active = false
				return rap
			}
		}
		switch {
		case b == 0:
			s.zeros++
		case b == 1 && s.zeros >= 2:
			s.header = true
			s.zeros = 0
		default:
			s.zeros = 0
		}
	}
	return false
}

// classify looks at the byte after a start code: whether it opens a
// random-access point, or a picture that is not one (the scan ends there).
func (s *esScanner) classify(b byte) (rap, picture bool) {
	switch s.codec {
	case codecH264:
		t := b & 0x1F
		return t == 5, t >= 1 && t <= 5
	case codecHEVC:
		t := b >> 1 & 0x3F
		return t >= 16 && t <= 21, t < 32
	case codecMPEG2:
		return b == 0xB3, b == 0x00 // sequence header; picture start
	}
	return false, true
}
