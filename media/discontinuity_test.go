package media

import (
	"bytes"
	"testing"

	"github.com/p2ptv/p2ptvd"
)

func TestMarkDiscontinuity(t *testing.T) {
	chunks, _ := chunkAll(t, DemoClip(), ChunkerConfig{})
	ch := chunks[5] // the second GOP's random-access chunk
	if !ch.Flags.Has(p2ptvd.RandomAccess) {
		t.Fatal("chunk 5 is not random access")
	}
	orig := bytes.Clone(ch.Payload)
	out := MarkDiscontinuity(ch.Payload)
	if !bytes.Equal(ch.Payload, orig) {
		t.Fatal("MarkDiscontinuity modified its input")
	}
	if len(out) != len(orig) {
		t.Fatalf("%d bytes out of %d", len(out), len(orig))
	}
	seen := map[uint16]bool{}
	marked := map[uint16]bool{}
	for i, p := range packets(t, out) {
		q := Packet(orig[i*188 : (i+1)*188])
		first := !seen[p.PID()]
		seen[p.PID()] = true
		want := q.Discontinuity() || (first && q.hasAF())
		if p.Discontinuity() != want {
			t.Errorf("packet %d (PID %d, first %v): discontinuity %v, want %v", i, p.PID(), first, p.Discontinuity(), want)
		}
		if p.Discontinuity() {
			marked[p.PID()] = true
		}
		// Nothing else changes.
		pp := bytes.Clone(p)
		if p.hasAF() {
			pp[5] = q[5]
		}
		if !bytes.Equal(pp, q) {
			t.Errorf("packet %d changed beyond the indicator", i)
		}
	}
	// ffmpeg's keyframe and audio PES starts carry an adaptation field (RAI,
	// PCR); its PAT and PMT packets do not.
	if !marked[demoVideoPID] || !marked[demoAudioPID] || marked[0] || marked[demoPMTPID] {
		t.Errorf("marked PIDs %v, want video and audio", marked)
	}

	// After a gap, the marked PIDs read as a discontinuity, not a CC
	// error; only the PIDs whose first packet had no adaptation field to
	// mark (SDT, PAT, PMT) count one.
	after := concat(chunks[9:])
	unmarkable := map[uint16]bool{}
	seen = map[uint16]bool{}
	for _, p := range packets(t, after) {
		if !seen[p.PID()] && !p.hasAF() {
			unmarkable[p.PID()] = true
		}
		seen[p.PID()] = true
	}
	in := append(bytes.Clone(concat(chunks[:2])), MarkDiscontinuity(after)...)
	_, c := chunkAll(t, in, ChunkerConfig{})
	if s := c.Stats(); s.CCErrors != uint64(len(unmarkable)) || unmarkable[demoVideoPID] || unmarkable[demoAudioPID] {
		t.Errorf("%d CC errors across a marked gap, want %d for the unmarkable PIDs %v", s.CCErrors, len(unmarkable), unmarkable)
	}
}

func TestMarkDiscontinuityOdd(t *testing.T) {
	af0 := make([]byte, 188) // adaptation field of length 0: no flags byte
	af0[0], af0[1], af0[3], af0[4] = syncByte, 0x01, 0x30, 0
	notSync := bytes.Repeat([]byte{0xAB}, 188)
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{"nil", nil, []byte{}},
		{"partial", []byte{0x47, 1, 2}, []byte{0x47, 1, 2}},
		{"af length 0", af0, af0},
		{"not sync", notSync, notSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MarkDiscontinuity(tc.in); !bytes.Equal(got, tc.want) {
				t.Errorf("got % x, want % x", got[:min(8, len(got))], tc.want[:min(8, len(tc.want))])
			}
		})
	}
}
