package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds cmd/p2ptvd once per test binary run.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "p2ptvd-e2e-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "p2ptvd")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/p2ptvd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/install-tools.sh %s installs it): %v", tool, tool, err)
		}
	}
}

// proc is a p2ptvd process whose first stdout line the test reads.
type proc struct {
	name   string
	cmd    *exec.Cmd
	first  string
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the binary with args and waits (up to 60 s) for its first line
// of standard output. stdin may be nil.
func start(t *testing.T, name string, stdin io.Reader, args ...string) *proc {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdin = stdin
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t, false) })
	select {
	case l, ok := <-lines:
		if !ok {
			<-p.done
			t.Fatalf("%s exited before printing a line: %v\n%s", name, p.err, p.stderr)
		}
		p.first = l
	case <-time.After(60 * time.Second):
		t.Fatalf("%s printed nothing in 60 s\n%s", name, p.stderr)
	}
	return p
}

// stop sends SIGTERM and waits; with check it asserts a clean exit (0).
func (p *proc) stop(t *testing.T, check bool) {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			if check {
				t.Errorf("%s did not stop within 15 s of SIGTERM\n%s", p.name, p.stderr)
			}
			return
		}
	}
	if check && p.err != nil {
		t.Errorf("%s: exit after SIGTERM: %v, want 0\n%s", p.name, p.err, p.stderr)
	}
}

// TestBinaryLive runs the built p2ptvd as separate processes: a bootstrap
// node, a broadcaster fed live by ffmpeg, two viewers from the start and
// one that joins late. ffprobe on each viewer's URL must decode ≥ 95% of
// the frames of a 10 s window with no warning, and start at a keyframe.
func TestBinaryLive(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	lo := "/ip4/127.0.0.1/tcp/0"

	boot := start(t, "bootstrap", nil, "--home", dir+"/boot", "bootstrap", "--listen", lo)
	if !strings.Contains(boot.first, "/p2p/") {
		t.Fatalf("bootstrap printed %q, want a multiaddr with /p2p/", boot.first)
	}

	// A live source: ffmpeg encodes a test pattern in real time.
	const fps = 25
	ff := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-b:v", "800k", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", "pipe:1")
	ffOut, err := ff.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ff.Stderr = os.Stderr
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ff.Process.Kill(); ff.Wait() })

	caster := start(t, "broadcaster", ffOut, "--home", dir+"/caster", "broadcast",
		"--listen", lo, "--bootstrap", boot.first, "--name", "e2e live", "-")
	if !strings.HasPrefix(caster.first, "/channel/bafk") {
		t.Fatalf("broadcast printed %q, want /channel/<cid>", caster.first)
	}
	join := func(name string) *proc {
		v := start(t, name, nil, "--home", dir+"/"+name, "join", "--listen", lo,
			"--bootstrap", boot.first, "--http", "127.0.0.1:0", caster.first)
		if !strings.HasPrefix(v.first, "http://127.0.0.1:") || !strings.HasSuffix(v.first, ".ts") {
			t.Fatalf("%s printed %q, want a playback URL", name, v.first)
		}
		return v
	}

	probeAll := func(vs ...*proc) {
		var wg sync.WaitGroup
		for _, v := range vs {
			wg.Go(func() { probe(t, v, fps) })
		}
		wg.Wait()
	}
	v1, v2 := join("viewer1"), join("viewer2")
	probeAll(v1, v2)
	playMPV(t, v2)
	// This viewer joins a stream that has run for a while, mid-GOP.
	v3 := join("viewer3")
	probeAll(v3)

	stdoutViewer(t, boot.first, caster.first, dir)

	for _, p := range []*proc{v1, v2, v3, caster, boot} {
		p.stop(t, true)
	}
}

// probe checks a viewer's stream with ffprobe: the first frame is a
// keyframe, and a 10 s window decodes ≥ 95% of its frames with no warning.
func probe(t *testing.T, v *proc, fps int) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "warning", "-rw_timeout", "5000000",
		"-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0",
		"-read_intervals", "%+10", v.first)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("%s: ffprobe: %v\n%s\np2ptvd log:\n%s", v.name, err, stderr.String(), v.stderr)
		return
	}
	failed := false
	if w := strings.TrimSpace(stderr.String()); w != "" {
		t.Errorf("%s: ffprobe warned:\n%s", v.name, w)
		failed = true
	}
	var frames []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			frames = append(frames, l)
		}
	}
	if len(frames) == 0 {
		t.Errorf("%s: no frames", v.name)
		return
	}
	if !strings.HasPrefix(frames[0], "1") {
		t.Errorf("%s: first frame is %q, want a keyframe (1,I)", v.name, frames[0])
		failed = true
	}
	want := 10 * fps * 95 / 100
	if len(frames) < want {
		t.Errorf("%s: decoded %d frames in a 10 s window, want ≥ %d", v.name, len(frames), want)
		failed = true
	}
	if failed {
		t.Logf("%s: p2ptvd log:\n%s", v.name, v.stderr)
	}
	t.Logf("%s: %d frames decoded in 10 s, first %s", v.name, len(frames), strconv.Quote(frames[0]))
}

// playMPV plays 5 s of a viewer's stream in mpv (no video or audio output)
// and expects it to finish cleanly with nothing to warn about.
func playMPV(t *testing.T, v *proc) {
	if _, err := exec.LookPath("mpv"); err != nil {
		t.Logf("mpv is not installed (scripts/install-tools.sh mpv installs it): skipping the mpv check")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mpv", "--no-config", "--vo=null", "--ao=null", "--length=5",
		"--msg-level=all=warn", v.first).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("%s: mpv: %v\n%s", v.name, err, out)
		return
	}
	t.Logf("%s: mpv played 5 s with no warning", v.name)
}

// stdoutViewer runs `join -o -` into ffprobe, the way `| mpv -` is used:
// the stream on standard output must decode from its first byte.
func stdoutViewer(t *testing.T, boot, channel, dir string) {
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	join := exec.CommandContext(ctx, bin, "--home", dir+"/stdout", "join", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", boot, "-o", "-", channel)
	var joinErr syncBuffer
	join.Stderr = &joinErr
	stream, err := join.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var probeErr bytes.Buffer
	probe := exec.CommandContext(ctx, "ffprobe", "-v", "warning", "-select_streams", "v:0",
		"-show_entries", "frame=key_frame", "-of", "csv=p=0", "-read_intervals", "%+3", "-")
	probe.Stdin = stream
	probe.Stderr = &probeErr
	if err := join.Start(); err != nil {
		t.Fatal(err)
	}
	out, err := probe.Output()
	join.Process.Signal(syscall.SIGTERM)
	join.Wait()
	frames := strings.Fields(string(out))
	if err != nil || len(frames) < 3*25*95/100 || !strings.HasPrefix(frames[0], "1") || strings.TrimSpace(probeErr.String()) != "" {
		t.Errorf("join -o -: ffprobe %v, %d frames, first %q, warnings %q\n%s", err, len(frames), frames, probeErr.String(), joinErr.String())
		return
	}
	t.Logf("join -o -: %d frames in 3 s from a keyframe", len(frames))
}
