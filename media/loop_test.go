package media

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2ptv/p2ptvd"
)

// loopChunks reads passes whole passes of the looped demo clip: every
// chunk up to the one that starts the next pass's first GOP.
func loopChunks(t *testing.T, passes int) ([]p2ptvd.Chunk, *Source) {
	t.Helper()
	s, err := NewSource(bytes.NewReader(DemoClip()), SourceConfig{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []p2ptvd.Chunk
	ra := 0
	for range 1000 {
		ch := readAll(t, s, 1)[0]
		if ch.Flags.Has(p2ptvd.RandomAccess) {
			if ra++; ra > 4*passes {
				return out, s
			}
		}
		out = append(out, ch)
	}
	t.Fatal("no end in sight")
	return nil, nil
}

// TestLoopContinuous checks that three passes of the looped clip are one
// continuous stream: chunk timestamps, PCR, PTS and DTS run on across the
// seams with no jump, continuity counters have no error, and each pass
// still opens with a random-access chunk of PAT, PMT and keyframe.
func TestLoopContinuous(t *testing.T) {
	chunks, s := loopChunks(t, 3)
	checkChunksOf(t, chunks, ChunkerConfig{}, 3*clipDuration)
	if st := s.Stats(); st.Loops != 3 {
		t.Errorf("%d loops, want 3", st.Loops)
	}
	out := concat(chunks)

	// A second chunker over the output sees no CC error and no jump.
	_, c := chunkAll(t, out, ChunkerConfig{})
	if st := c.Stats(); st.CCErrors != 0 || st.Discontinuities != 0 || st.RandomAccessChunks != 12 {
		t.Errorf("re-chunked output: %+v", st)
	}

	var pcrs []int64
	pts := map[uint16][]int64{}
	for _, p := range packets(t, out) {
		if v, ok := p.PCR(); ok {
			pcrs = append(pcrs, v)
		}
		if p.PUSI() && (p.PID() == demoVideoPID || p.PID() == demoAudioPID) {
			v, ok := pesPTS(p.Payload())
			if !ok {
				t.Fatalf("PES on PID %d without PTS", p.PID())
			}
			pts[p.PID()] = append(pts[p.PID()], v)
		}
	}
	if len(pcrs) != 300 {
		t.Errorf("%d PCRs, want 300", len(pcrs))
	}
	for i := 1; i < len(pcrs); i++ {
		if d := pcrs[i] - pcrs[i-1]; d <= 0 || d > 100*ticksPerSecond/1000 {
			t.Errorf("PCR %d steps %d ticks", i, d)
		}
	}
	// Every video frame 40 ms after the one before, seams included.
	v := pts[demoVideoPID]
	if len(v) != 600 {
		t.Errorf("%d video frames, want 600", len(v))
	}
	for i := 1; i < len(v); i++ {
		if d := v[i] - v[i-1]; d != 3600 {
			t.Errorf("video PTS %d steps %d, want 3600", i, d)
		}
	}
	// Audio PES hold up to 16 AAC frames of 1920 ticks; the last of a pass
	// holds 8, and the next pass's first PES follows them exactly.
	a := pts[demoAudioPID]
	const aac = 1024 * 90000 / 48000
	seams := 0
	for i := 1; i < len(a); i++ {
		d := a[i] - a[i-1]
		if d%aac != 0 || d < aac || d > 16*aac {
			t.Errorf("audio PTS %d steps %d, not 1 to 16 AAC frames", i, d)
		}
		if d == 8*aac {
			seams++
		}
	}
	if seams != 2 {
		t.Errorf("%d audio steps of 8 frames, want one per seam (2)", seams)
	}
	if got, want := s.loop.period, int64(8*90000); got != want {
		t.Errorf("loop period %d, want %d (8 s)", got, want)
	}
}

// TestLoopDecodes decodes three passes of the looped clip with ffmpeg and
// ffprobe: any warning (a CC error, a timestamp going back, a corrupt
// frame) fails the test.
func TestLoopDecodes(t *testing.T) {
	ffmpeg, err1 := exec.LookPath("ffmpeg")
	ffprobe, err2 := exec.LookPath("ffprobe")
	if err1 != nil || err2 != nil {
		t.Skip("ffmpeg and ffprobe are not installed: cannot check that a looped clip decodes cleanly")
	}
	if testing.Short() {
		t.Skip("decodes 24 s of video")
	}
	chunks, _ := loopChunks(t, 3)
	name := filepath.Join(t.TempDir(), "loop.ts")
	if err := os.WriteFile(name, concat(chunks), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(bin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var stderr, stdout bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, &stdout
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("%s %s warned:\n%s", filepath.Base(bin), strings.Join(args, " "), stderr.String())
		}
		return strings.TrimSpace(stdout.String())
	}
	run(ffmpeg, "-nostdin", "-v", "warning", "-i", name, "-f", "null", "-")
	got := run(ffprobe, "-v", "warning", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", name)
	if f := strings.Fields(got); len(f) == 0 || f[0] != "600" {
		t.Errorf("ffprobe read %s video frames, want 600", got)
	}
}
