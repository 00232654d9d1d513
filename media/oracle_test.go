package media

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/asticode/go-astits"
)

// TestParserMatchesAstits cross-checks the hand parser against go-astits,
// a full demuxer, on real ffmpeg output: every packet's header fields,
// adaptation-field flags and PCR, and the PAT/PMT results.
func TestParserMatchesAstits(t *testing.T) {
	clip := DemoClip()
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(clip))
	r := NewReader(bytes.NewReader(clip))
	c := NewChunker(ChunkerConfig{}, testEpoch)
	n := 0
	for {
		want, err := dmx.NextPacket()
		if errors.Is(err, astits.ErrNoMorePackets) {
			break
		}
		if err != nil {
			t.Fatalf("astits packet %d: %v", n, err)
		}
		got, err := r.Next()
		if err != nil {
			t.Fatalf("reader packet %d: %v", n, err)
		}
		c.Push(got)
		h := want.Header
		if got.PID() != h.PID || got.PUSI() != h.PayloadUnitStartIndicator || got.CC() != h.ContinuityCounter || got.HasPayload() != h.HasPayload {
			t.Fatalf("packet %d: header pid=%d pusi=%v cc=%d payload=%v, astits %+v", n, got.PID(), got.PUSI(), got.CC(), got.HasPayload(), h)
		}
		var wantRAI, wantDisc, wantHasPCR bool
		var wantPCR int64
		if af := want.AdaptationField; af != nil {
			wantRAI, wantDisc, wantHasPCR = af.RandomAccessIndicator, af.DiscontinuityIndicator, af.HasPCR
			if af.HasPCR {
				wantPCR = af.PCR.Base*300 + af.PCR.Extension
			}
		}
		gotPCR, gotHasPCR := got.PCR()
		if got.RandomAccess() != wantRAI || got.Discontinuity() != wantDisc || gotHasPCR != wantHasPCR || gotPCR != wantPCR {
			t.Fatalf("packet %d: rai=%v disc=%v pcr=%v/%d, astits rai=%v disc=%v pcr=%v/%d", n,
				got.RandomAccess(), got.Discontinuity(), gotHasPCR, gotPCR, wantRAI, wantDisc, wantHasPCR, wantPCR)
		}
		if !bytes.Equal(got.Payload(), want.Payload) {
			t.Fatalf("packet %d: payload differs", n)
		}
		n++
	}
	if _, err := r.Next(); err == nil {
		t.Fatalf("reader has packets after astits ran out at %d", n)
	}
	if got, want := r.Stats().Packets, uint64(len(clip)/188); got != want || uint64(n) != want {
		t.Fatalf("packets: reader %d, astits %d, want %d", got, n, want)
	}

	// PAT and PMT.
	dmx = astits.NewDemuxer(context.Background(), bytes.NewReader(clip))
	var pat *astits.PATData
	var pmt *astits.PMTData
	for pat == nil || pmt == nil {
		d, err := dmx.NextData()
		if err != nil {
			t.Fatalf("astits data: %v", err)
		}
		if d.PAT != nil && pat == nil {
			pat = d.PAT
		}
		if d.PMT != nil && pmt == nil {
			pmt = d.PMT
		}
	}
	prog, ok := c.Program()
	if !ok {
		t.Fatal("chunker read no PMT")
	}
	if prog.Number != pat.Programs[0].ProgramNumber || prog.PMTPID != pat.Programs[0].ProgramMapID {
		t.Errorf("program %d on PMT PID %d, astits %+v", prog.Number, prog.PMTPID, *pat.Programs[0])
	}
	if prog.PCRPID != pmt.PCRPID {
		t.Errorf("PCR PID %d, astits %d", prog.PCRPID, pmt.PCRPID)
	}
	var want []Stream
	for _, es := range pmt.ElementaryStreams {
		want = append(want, Stream{PID: es.ElementaryPID, Type: uint8(es.StreamType)})
		if es.StreamType.IsVideo() && prog.Video.PID != es.ElementaryPID {
			t.Errorf("video PID %d, astits says %d is video", prog.Video.PID, es.ElementaryPID)
		}
	}
	if !slices.Equal(prog.Streams, want) {
		t.Errorf("streams %+v, astits %+v", prog.Streams, want)
	}
	if prog.Video != (Stream{PID: demoVideoPID, Type: 0x1B}) {
		t.Errorf("video %+v, want H.264 on PID %d", prog.Video, demoVideoPID)
	}
	if s := c.Stats(); s.BadSections != 0 || s.CCErrors != 0 {
		t.Errorf("stats %+v, want no bad sections or CC errors", s)
	}
}
