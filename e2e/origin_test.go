package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/buffer"
	"github.com/p2ptv/p2ptvd/media"
)

// The server baseline: what a user would run instead of p2ptvd, one origin
// that sends every viewer its own copy of the stream, the way an HTTP
// server streams progressive MPEG-TS. A viewer opens one stream of
// originProtocol and reads chunks from it until it ends; the origin starts
// it at the latest random-access chunk (its GOP cache, as p2ptvd's own
// HTTP output does) and then sends every chunk as the source cuts it.
//
//	frame = seq uint64 | timestamp int64 (Unix ns) | duration int64 (ns) | flags uint8 | len uint32 | payload
//
// Big-endian; len ≤ maxFrame.
const originProtocol = protocol.ID("/p2ptv-bench/origin/1.0.0")

const (
	frameHeader = 8 + 8 + 8 + 1 + 4
	maxFrame    = 1 << 20
	// originQueue is how many chunks the origin holds for a viewer whose
	// link is behind (about 30 s); beyond that it drops, as a server that
	// cannot block on one client must.
	originQueue = 256
)

func appendFrame(b []byte, c p2ptvd.Chunk) []byte {
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Timestamp.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Duration))
	b = append(b, byte(c.Flags))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Payload)))
	return append(b, c.Payload...)
}

var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one frame; io.EOF only before its first byte.
func readFrame(r io.Reader) (p2ptvd.Chunk, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return p2ptvd.Chunk{}, err
	}
	n := binary.BigEndian.Uint32(h[25:])
	if n > maxFrame {
		return p2ptvd.Chunk{}, fmt.Errorf("read frame: %d bytes: %w", n, errFrameTooLarge)
	}
	c := p2ptvd.Chunk{
		Seq:       binary.BigEndian.Uint64(h[0:]),
		Timestamp: time.Unix(0, int64(binary.BigEndian.Uint64(h[8:]))),
		Duration:  time.Duration(binary.BigEndian.Uint64(h[16:])),
		Flags:     p2ptvd.Flags(h[24]),
		Payload:   make([]byte, n),
	}
	if _, err := io.ReadFull(r, c.Payload); err != nil {
		return p2ptvd.Chunk{}, fmt.Errorf("read frame payload: %w", io.ErrUnexpectedEOF)
	}
	return c, nil
}

// origin serves the stream to every viewer that asks.
type origin struct {
	log *sourceLog
	ctx context.Context

	mu   sync.Mutex
	gop  []p2ptvd.Chunk // from the latest random-access chunk on
	subs map[chan p2ptvd.Chunk]struct{}
	wg   sync.WaitGroup // stream handlers
}

// serve cuts the clip as a paced, looping live source and sends its
// chunks to the viewers until ctx ends; the handler is removed and every
// stream handler has returned when it does.
func (o *origin) serve(ctx context.Context, h interface {
	SetStreamHandler(protocol.ID, network.StreamHandler)
	RemoveStreamHandler(protocol.ID)
}, clip []byte) error {
	o.ctx = ctx
	o.subs = make(map[chan p2ptvd.Chunk]struct{})
	h.SetStreamHandler(originProtocol, o.handle)
	defer func() {
		h.RemoveStreamHandler(originProtocol)
		o.wg.Wait()
	}()
	src, err := media.NewSource(bytes.NewReader(clip), media.SourceConfig{Pace: true, Loop: true})
	if err != nil {
		return err
	}
	for {
		c, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		o.log.add(c)
		o.mu.Lock()
		if c.Flags.Has(p2ptvd.RandomAccess) {
			o.gop = o.gop[:0]
		}
		o.gop = append(o.gop, c)
		for q := range o.subs {
			select {
			case q <- c:
			default: // the viewer is 30 s behind: it loses this chunk
			}
		}
		o.mu.Unlock()
	}
}

func (o *origin) handle(s network.Stream) {
	o.mu.Lock()
	if o.ctx.Err() != nil {
		o.mu.Unlock()
		s.Reset()
		return
	}
	o.wg.Add(1)
	q := make(chan p2ptvd.Chunk, originQueue)
	for _, c := range o.gop {
		q <- c
	}
	o.subs[q] = struct{}{}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.subs, q)
		o.mu.Unlock()
		o.wg.Done()
	}()
	stop := context.AfterFunc(o.ctx, func() { s.Reset() })
	defer stop()
	var buf []byte
	for {
		select {
		case <-o.ctx.Done():
			return
		case c := <-q:
			buf = appendFrame(buf[:0], c)
			if _, err := s.Write(buf); err != nil {
				s.Reset()
				return
			}
		}
	}
}

// watchOrigin connects to the origin, asks for the stream and pushes every
// chunk into the buffer until ctx ends or the stream does.
func watchOrigin(ctx context.Context, h *simHost, o peer.AddrInfo, p *buffer.Playout) error {
	if err := h.Connect(ctx, o); err != nil {
		return fmt.Errorf("connect to origin: %w", err)
	}
	s, err := h.NewStream(ctx, o.ID, originProtocol)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	defer s.Close()
	r := bufio.NewReaderSize(s, 64<<10)
	for {
		c, err := readFrame(r)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.Push(c)
	}
}

// runServerSim runs the server baseline of a plan in the bubble it is
// called in: the origin on a data-centre link, the viewers on the same
// home links as in runChannelSim, joining on the same schedule; every
// viewer's buffer is read the same way.
func runServerSim(t *testing.T, sc plan) result {
	clip, err := paddedClip(streamBitrate)
	if err != nil {
		t.Fatal(err)
	}
	heap0 := liveHeap()
	log := benchLogger()
	sn := newSimNet(sc.seed, sc.loss, log)
	sn.start()
	var hosts []*simHost
	defer func() {
		for _, h := range hosts {
			h.Close()
		}
		sn.close()
	}()
	oh, err := sn.newHost(serverLink())
	if err != nil {
		t.Fatal(err)
	}
	hosts = append(hosts, oh)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := &origin{log: &sourceLog{}}
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- o.serve(serveCtx, oh, clip) }()
	defer func() {
		stopServe()
		if err := <-served; err != nil {
			t.Errorf("origin: %v", err)
		}
	}()

	type serverViewer struct {
		viewer
		host *simHost
		buf  *buffer.Playout
	}
	var viewers []*serverViewer
	for i := range sc.viewers {
		h, err := sn.newHost(viewerLink(i, sn.randomLatency()))
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		viewers = append(viewers, &serverViewer{host: h, buf: buffer.New(buffer.Config{Logger: log})})
	}
	time.Sleep(sc.live)
	start := time.Now()
	end := start.Add(sc.stream)
	sent0 := oh.Sent()
	var wg sync.WaitGroup
	for i, v := range viewers {
		time.Sleep(time.Until(start.Add(sc.joinOver * time.Duration(i) / time.Duration(len(viewers)))))
		v.begin(v.host)
		wg.Go(func() { v.buf.Run(ctx) })
		v.watch(ctx, v.buf)
		wg.Go(func() {
			if err := watchOrigin(ctx, v.host, oh.info(), v.buf); err != nil {
				t.Logf("viewer %d: %v", i, err)
			}
		})
	}
	time.Sleep(time.Until(end))
	srcSent := oh.Sent() - sent0
	for _, v := range viewers {
		v.finish(v.buf)
	}
	heap := liveHeap()
	cancel()
	wg.Wait()
	for _, v := range viewers {
		v.buf.Close()
	}

	vs := make([]*viewer, len(viewers))
	for i, v := range viewers {
		vs[i] = &v.viewer
	}
	r := summary(vs, o.log, sc.stream, srcSent, o.log.between(start, end))
	r.metrics[unitHeap] = float64(heap-min(heap, heap0)) / float64(len(viewers)+1) / 1e6
	return r
}

// FuzzReadFrame: the baseline's frame decoder never panics, and what it
// accepts encodes back to the same bytes.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, p2ptvd.Chunk{Seq: 7, Timestamp: time.Unix(1, 2), Duration: time.Second, Flags: p2ptvd.RandomAccess, Payload: []byte("ts")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := readFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		if got := appendFrame(nil, c); !bytes.Equal(got, b[:len(got)]) {
			t.Fatalf("re-encoded %x, read from %x", got, b)
		}
	})
}
