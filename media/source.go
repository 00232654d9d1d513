package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/p2ptv/p2ptvd"
)

var (
	// ErrNotTS is returned for input that is not an MPEG transport stream:
	// no run of packets in its first 64 KiB, or none at all.
	ErrNotTS = errors.New("not an MPEG-TS stream")
	// ErrNoProgram is returned for a transport stream in whose first 4 MiB
	// there is no PAT, no PMT for its first program, or no video stream in
	// that program (audio-only input is not supported yet).
	ErrNoProgram = errors.New("no program with a video stream")
)

const (
	// maxProgramSearch is how much input the Source reads looking for the
	// program before it gives up with ErrNoProgram.
	maxProgramSearch = 4 << 20
	// maxLag is how far a chunk's end may fall behind the wall clock when
	// it is delivered before its timestamps are moved up to now.
	maxLag = 2 * time.Second
)

// Clock is what Source needs of time. nil = real time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SourceConfig configures a Source. The zero value reads live input as
// fast as it comes.
type SourceConfig struct {
	Chunker ChunkerConfig
	// Pace releases each chunk when its media time has passed since the
	// first, so a file plays out as if it were live. Leave it off for live
	// input, which is paced by whoever writes it.
	Pace bool
	// Loop reads the input again from the start when it ends, rewriting
	// timestamps and continuity counters so that the output is one
	// continuous stream. The reader must be an io.ReadSeeker.
	Loop   bool
	Clock  Clock
	Logger *slog.Logger // nil = discard
}

// Stats counts what a Source (or a Reader, or a Chunker) has seen.
type Stats struct {
	Packets        uint64 // whole packets read
	Bytes          uint64 // input bytes consumed: packets, skipped and truncated
	SkippedBytes   uint64 // bytes skipped while looking for packet sync
	Resyncs        uint64 // times sync was found after skipping bytes
	TruncatedBytes uint64 // partial packets dropped at the end of input

	Chunks             uint64
	RandomAccessChunks uint64
	TablesPrepended    uint64 // random-access chunks that got copies of PAT and PMT
	MissedRandomAccess uint64 // keyframes found too far into their PES to cut before
	BadSections        uint64 // PAT/PMT sections with a bad CRC or layout, ignored
	CCErrors           uint64 // continuity counter errors (after loop rewriting)
	Discontinuities    uint64 // jumps in the stream's clock

	Loops  uint64 // times a looped input was read again from the start
	Stalls uint64 // times timestamps were moved up after the input fell behind the clock
}

// Source reads a transport stream from an io.Reader and cuts it into
// chunks. It starts no goroutines. Next must not be called concurrently;
// Stats may be called from any goroutine.
type Source struct {
	cfg    SourceConfig
	r      io.Reader
	seeker io.Seeker
	clock  Clock
	log    *slog.Logger

	rd      *Reader
	ch      *Chunker
	psi     *psi
	prog    Program
	holding bool   // looking for the program; packets wait in held
	held    []byte // packets read before the program was known
	heldOff int

	loop        *looper
	passPackets uint64

	shift  time.Duration // added to timestamps after stalls
	stalls uint64

	pending *p2ptvd.Chunk // a chunk whose pacing was interrupted
	err     error         // sticky: io.EOF after the last chunk, or the failure

	mu   sync.Mutex
	snap Stats
}

// NewSource returns a Source of r. It reads nothing yet. With Loop, r must
// be an io.ReadSeeker.
func NewSource(r io.Reader, cfg SourceConfig) (*Source, error) {
	s := &Source{cfg: cfg, r: r, clock: cfg.Clock, log: cfg.Logger, holding: true, psi: newPSI()}
	if cfg.Loop {
		sk, ok := r.(io.Seeker)
		if !ok {
			return nil, fmt.Errorf("new source: loop needs an io.ReadSeeker, got %T", r)
		}
		s.seeker = sk
		s.loop = newLooper()
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.rd = NewReader(r)
	return s, nil
}

// Next returns the next chunk (Channel left zero: the caller sets it).
// After the input ends it returns the last chunk and then io.EOF. With
// Pace it waits until the chunk's media time is due, and returns ctx's
// error if ctx ends first (the chunk is kept for the next call). ctx is
// also checked between packets, but a Read blocked on a pipe or socket
// cannot be interrupted: the caller closes the reader to unblock it.
func (s *Source) Next(ctx context.Context) (p2ptvd.Chunk, error) {
	defer s.snapshot()
	if s.pending != nil {
		ch := *s.pending
		if err := s.pace(ctx, ch); err != nil {
			return p2ptvd.Chunk{}, err
		}
		s.pending = nil
		return ch, nil
	}
	if s.err != nil {
		return p2ptvd.Chunk{}, s.err
	}
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return p2ptvd.Chunk{}, err
			}
		}
		pkt, err := s.packet()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.err = err
				return p2ptvd.Chunk{}, err
			}
			s.err = io.EOF
			if s.ch == nil {
				return p2ptvd.Chunk{}, io.EOF
			}
			ch, ok := s.ch.Flush()
			if !ok {
				return p2ptvd.Chunk{}, io.EOF
			}
			return s.deliver(ctx, ch)
		}
		if ch, ok := s.ch.Push(pkt); ok {
			return s.deliver(ctx, ch)
		}
	}
}

func (s *Source) deliver(ctx context.Context, ch p2ptvd.Chunk) (p2ptvd.Chunk, error) {
	if ch.Timestamp.IsZero() {
		// The stream has no clock to derive it from.
		ch.Timestamp = s.clock.Now()
		return ch, nil
	}
	ch.Timestamp = ch.Timestamp.Add(s.shift)
	if lag := s.clock.Now().Sub(ch.Timestamp.Add(ch.Duration)); lag > maxLag {
		// The input stalled (or our reader did): media time no longer
		// tells the wall-clock time. Move this and later timestamps up
		// rather than stamp live chunks with the past.
		s.shift += lag
		ch.Timestamp = ch.Timestamp.Add(lag)
		s.stalls++
		s.log.Warn("media: input fell behind the clock; timestamps moved up", "lag", lag, "seq", ch.Seq)
	}
	if err := s.pace(ctx, ch); err != nil {
		s.pending = &ch
		return p2ptvd.Chunk{}, err
	}
	return ch, nil
}

// pace waits, with Pace, until the chunk's last packet is due: its
// Timestamp plus Duration.
func (s *Source) pace(ctx context.Context, ch p2ptvd.Chunk) error {
	if !s.cfg.Pace {
		return nil
	}
	d := ch.Timestamp.Add(ch.Duration).Sub(s.clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.clock.After(d):
		return nil
	}
}

// packet returns the next packet for the chunker: held packets first, then
// the input, read again from the start when it ends if looping.
func (s *Source) packet() (Packet, error) {
	if s.holding {
		if err := s.findProgram(); err != nil {
			return nil, err
		}
	}
	if s.heldOff < len(s.held) {
		p := Packet(s.held[s.heldOff : s.heldOff+p2ptvd.PacketSize])
		s.heldOff += p2ptvd.PacketSize
		if s.heldOff == len(s.held) {
			s.held, s.heldOff = nil, 0
		}
		s.rewrite(p)
		return p, nil
	}
	for {
		p, err := s.rd.Next()
		if err == nil {
			s.passPackets++
			s.rewrite(p)
			return p, nil
		}
		if !errors.Is(err, io.EOF) || !s.cfg.Loop {
			return nil, err
		}
		if s.passPackets == 0 {
			return nil, fmt.Errorf("loop: no packets in a pass of the input: %w", io.EOF)
		}
		if _, err := s.seeker.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("loop: seek to start: %w", err)
		}
		s.rd.Reset(s.r)
		s.loop.seam()
		s.passPackets = 0
		s.log.Debug("media: looping input", "loops", s.loop.pass, "period", time.Duration(s.loop.period)*time.Second/90000)
	}
}

func (s *Source) rewrite(p Packet) {
	if s.loop != nil {
		s.loop.rewrite(p, &s.prog)
	}
}

// findProgram reads and holds packets until the PAT and PMT show a program
// with video.
func (s *Source) findProgram() error {
	for {
		p, err := s.rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			if len(s.held) == 0 && s.rd.Stats().Bytes == 0 {
				return fmt.Errorf("%w: empty input", ErrNotTS)
			}
			return fmt.Errorf("%w: input ended after %d packets: %s", ErrNoProgram, len(s.held)/p2ptvd.PacketSize, s.missing())
		}
		s.passPackets++
		if s.ch == nil {
			// Timestamps count from when the first packet arrived.
			s.ch = NewChunker(s.cfg.Chunker, s.clock.Now())
		}
		s.held = append(s.held, p...)
		s.psi.push(p)
		if s.psi.known && s.psi.prog.HasVideo() {
			s.holding = false
			s.prog = s.psi.prog
			s.log.Info("media: found program", "program", s.prog.Number, "pmt_pid", s.prog.PMTPID,
				"pcr_pid", s.prog.PCRPID, "video_pid", s.prog.Video.PID, "video_type", s.prog.Video.Type)
			return nil
		}
		if len(s.held) >= maxProgramSearch {
			return fmt.Errorf("%w: none in the first %d bytes: %s", ErrNoProgram, len(s.held), s.missing())
		}
	}
}

func (s *Source) missing() string {
	switch {
	case s.psi.prog.PMTPID == 0:
		return "no PAT"
	case !s.psi.known:
		return fmt.Sprintf("no PMT for program %d on PID %d", s.psi.prog.Number, s.psi.prog.PMTPID)
	default:
		return fmt.Sprintf("program %d has no video stream", s.psi.prog.Number)
	}
}

func (s *Source) snapshot() {
	st := s.rd.Stats()
	if s.ch != nil {
		c := s.ch.Stats()
		st.Chunks, st.RandomAccessChunks, st.TablesPrepended = c.Chunks, c.RandomAccessChunks, c.TablesPrepended
		st.MissedRandomAccess, st.BadSections, st.CCErrors, st.Discontinuities = c.MissedRandomAccess, c.BadSections, c.CCErrors, c.Discontinuities
	}
	if s.loop != nil {
		st.Loops = uint64(s.loop.pass)
	}
	st.Stalls = s.stalls
	s.mu.Lock()
	s.snap = st
	s.mu.Unlock()
}

// Stats returns the Source's counters as of the last return from Next.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}
