package media

import (
	"bytes"
	"testing"
)

// TestESScanner splits PES payloads at every point to check that start
// codes are found across packet boundaries.
func TestESScanner(t *testing.T) {
	pesHeader := []byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}
	nal := func(hdr byte, body int) []byte {
		return append([]byte{0, 0, 0, 1, hdr}, bytes.Repeat([]byte{0x55}, body)...)
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name  string
		codec codec
		pes   []byte
		want  bool
	}{
		{"h264 idr first", codecH264, join(pesHeader, nal(0x65, 10)), true},
		{"h264 aud sps pps sei idr", codecH264, join(pesHeader, nal(0x09, 2), nal(0x67, 20), nal(0x68, 4), nal(0x06, 700), nal(0x65, 10)), true},
		{"h264 non-idr", codecH264, join(pesHeader, nal(0x09, 2), nal(0x41, 100)), false},
		{"h264 non-idr then idr-looking bytes", codecH264, join(pesHeader, nal(0x41, 100), nal(0x65, 10)), false},
		{"h264 3-byte start codes", codecH264, join(pesHeader, []byte{0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x65}), true},
		{"hevc idr_w_radl", codecHEVC, join(pesHeader, nal(0x46, 2), nal(0x40, 10), nal(19<<1, 10)), true},
		{"hevc cra", codecHEVC, join(pesHeader, nal(21<<1, 10)), true},
		{"hevc trail", codecHEVC, join(pesHeader, nal(0x46, 2), nal(1<<1, 10)), false},
		{"mpeg2 sequence header", codecMPEG2, join(pesHeader, []byte{0, 0, 1, 0xB3, 1, 2, 3, 0, 0, 1, 0x00}), true},
		{"mpeg2 picture", codecMPEG2, join(pesHeader, []byte{0, 0, 1, 0x00, 1, 2}), false},
		{"other codec", codecOther, join(pesHeader, nal(0x65, 10)), false},
		{"not a PES", codecH264, nal(0x65, 10), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for split := 9; split < len(tc.pes); split++ {
				for split2 := split; split2 < min(split+6, len(tc.pes)); split2++ {
					var s esScanner
					got := s.start(tc.codec, tc.pes[:split])
					if !got {
						got = s.feed(tc.pes[split:split2])
					}
					if !got {
						got = s.feed(tc.pes[split2:])
					}
					if got != tc.want {
						t.Fatalf("split at %d, %d: %v, want %v", split, split2, got, tc.want)
					}
				}
			}
		})
	}
}
