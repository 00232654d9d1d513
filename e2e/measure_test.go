package e2e

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/buffer"
)

// The figures every benchmark reports, with the units benchstat compares.
// Ratios of bytes count every protocol at the host's network endpoint (the
// simulated UDP socket, or libp2p's stream counters on loopback) and divide
// by stream bytes: chunk payloads, the MPEG-TS the player gets.
const (
	unitContinuity = "continuity"                    // chunks released ÷ chunks due (see viewer.due), all viewers after their start
	unitStartupP50 = "startup-p50-ms"                // Join called → first chunk released (a random-access chunk)
	unitStartupP95 = "startup-p95-ms"                //
	unitDelayP50   = "delay-p50-ms"                  // chunk's source timestamp → released by a viewer's buffer
	unitDelayP99   = "delay-p99-ms"                  //
	unitIn         = "in-per-stream-byte"            // Σ bytes viewers received ÷ Σ stream bytes they played
	unitSrcUp      = "src-up-per-stream-byte"        // bytes the source sent ÷ stream bytes it published
	unitRelayMean  = "relay-up-per-stream-byte-mean" // a viewer's upload ÷ stream published while it watched
	unitRelayMax   = "relay-up-per-stream-byte-max"  //
	unitCPU        = "cpu-ms-per-node-s"             // process CPU ÷ nodes ÷ stream seconds (real-time runs)
	unitHeap       = "heap-MB-per-node"              // live heap at the end ÷ nodes
	unitWall       = "wall-s"                        // the scenario's wall-clock time
	unitUnstarted  = "unstarted-viewers"             // viewers there ≥ minWatch whose buffer never released a chunk
)

// minWatch is how long a viewer must have been there to count in the
// relay figures (a churn joiner of the last seconds has almost nothing in
// the denominator), and, if it never started, to count as unstarted:
// one that joined just before the end is left out of the startup figures
// rather than credited with the few seconds it waited. Short runs use half
// their length.
func minWatch(stream time.Duration) time.Duration { return min(10*time.Second, stream/2) }

// sourceLog records what the source published: chunk timestamps and end
// times (source clock) and sizes, so the stream bytes of any interval can
// be summed and the chunks of any interval counted.
type sourceLog struct {
	mu     sync.Mutex
	stamps []time.Time
	ends   []time.Time
	bytes  []int64 // cumulative
}

func (l *sourceLog) add(c p2ptvd.Chunk) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var total int64
	if len(l.bytes) > 0 {
		total = l.bytes[len(l.bytes)-1]
	}
	l.stamps = append(l.stamps, c.Timestamp)
	l.ends = append(l.ends, c.Timestamp.Add(c.Duration))
	l.bytes = append(l.bytes, total+int64(len(c.Payload)))
}

// count is the number of chunks stamped in [from, to].
func (l *sourceLog) count(from, to time.Time) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := upTo(l.stamps, to) - upTo(l.stamps, from.Add(-1))
	return uint64(max(n, 0))
}

// upTo is how many of the sorted times ts are at or before t.
func upTo(ts []time.Time, t time.Time) int {
	return sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
}

// between is the stream bytes of the chunks that ended in (from, to].
func (l *sourceLog) between(from, to time.Time) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	bytesTo := func(t time.Time) int64 {
		if i := upTo(l.ends, t); i > 0 {
			return l.bytes[i-1]
		}
		return 0
	}
	return bytesTo(to) - bytesTo(from)
}

// follow records every chunk a playout buffer releases until ctx ends. The
// source's own buffer holds every chunk it publishes, so following it logs
// the stream as published.
func (l *sourceLog) follow(ctx context.Context, p *buffer.Playout) {
	r := p.NewReader()
	defer r.Close()
	for {
		e, err := r.Next(ctx)
		if err != nil {
			return
		}
		l.add(e.Chunk)
	}
}

// counters reads a host's byte counters.
type counters interface {
	Sent() int64
	Received() int64
}

// viewer is one viewer as the benchmarks see it: when it joined, what its
// buffer released, and its byte counters over the time it watched.
type viewer struct {
	joined   time.Time // Join called (for the baseline: the request sent)
	ready    time.Time // Join returned (providers dialled, manifest fetched); zero if it never did or there is no Join
	ended    time.Time // left, or the run ended
	c        counters
	in0, up0 int64 // counters at join

	mu         sync.Mutex
	first      time.Time // first release; zero if none
	firstStamp time.Time // the first released chunk's timestamp
	delays     []time.Duration
	stamps     []time.Time // released chunks' timestamps
	maxDelay   time.Duration
	played     int64 // payload bytes released
	stats      buffer.Stats
	in, up     int64 // bytes from join to end
	finished   bool
	stop       context.CancelFunc
	done       chan struct{}
}

// begin marks the join: the clock for startup and the counters start now.
func (v *viewer) begin(c counters) {
	v.joined = time.Now()
	v.c = c
	v.in0, v.up0 = c.Received(), c.Sent()
}

// watch records what the viewer's buffer releases until finish. It
// returns false if the viewer has already finished.
func (v *viewer) watch(ctx context.Context, p *buffer.Playout) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished {
		return false
	}
	ctx, v.stop = context.WithCancel(ctx)
	v.done = make(chan struct{})
	r := p.NewReader()
	go func() {
		defer close(v.done)
		defer r.Close()
		for {
			e, err := r.Next(ctx)
			if err != nil {
				return
			}
			v.mu.Lock()
			if v.first.IsZero() {
				v.first, v.firstStamp = e.Released, e.Chunk.Timestamp
			}
			d := e.Released.Sub(e.Chunk.Timestamp)
			v.delays = append(v.delays, d)
			v.stamps = append(v.stamps, e.Chunk.Timestamp)
			v.maxDelay = max(v.maxDelay, d)
			v.played += int64(len(e.Chunk.Payload))
			v.mu.Unlock()
		}
	}()
	return true
}

// started reports whether the buffer has released a chunk.
func (v *viewer) started() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.first.IsZero()
}

// finish stops recording and takes the final state of the buffer (nil if
// the viewer never joined) and of the counters.
func (v *viewer) finish(p *buffer.Playout) {
	v.mu.Lock()
	v.finished = true
	stop, done := v.stop, v.done
	v.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ended = time.Now()
	if p != nil {
		v.stats = p.Stats()
	}
	if v.c != nil {
		v.in, v.up = v.c.Received()-v.in0, v.c.Sent()-v.up0
	}
}

// result is one scenario's figures.
type result struct {
	metrics map[string]float64
	notes   []string // a few lines for the log: what the figures rest on
}

// summary computes the figures over every viewer of a run that streamed
// for stream. srcSent is the source's upload over the run and published
// the stream bytes it published in that time.
func summary(vs []*viewer, log *sourceLog, stream time.Duration, srcSent, published int64) result {
	var due, released, neverCame uint64
	var startup, delays []time.Duration
	var each []float64 // continuity of each viewer that had chunks due
	var in, played int64
	var relay []float64
	unstarted := 0
	for _, v := range vs {
		d := v.due(log)
		due += d
		neverCame += d - v.stats.Due
		released += v.stats.Released
		if d > 0 {
			each = append(each, float64(v.stats.Released)/float64(d))
		}
		watched := v.ended.Sub(v.joined)
		switch {
		case !v.first.IsZero():
			startup = append(startup, v.first.Sub(v.joined))
		case watched >= minWatch(stream):
			// It never started: count it as waiting the whole time.
			unstarted++
			startup = append(startup, watched)
		}
		delays = append(delays, v.delays...)
		in += v.in
		played += v.played
		if watched >= minWatch(stream) {
			if s := log.between(v.joined, v.ended); s > 0 {
				relay = append(relay, float64(v.up)/float64(s))
			}
		}
	}
	m := map[string]float64{
		unitContinuity: ratio(float64(released), float64(due)),
		unitStartupP50: ms(percentile(startup, 50)),
		unitStartupP95: ms(percentile(startup, 95)),
		unitDelayP50:   ms(percentile(delays, 50)),
		unitDelayP99:   ms(percentile(delays, 99)),
		unitIn:         ratio(float64(in), float64(played)),
		unitSrcUp:      ratio(float64(srcSent), float64(published)),
		unitUnstarted:  float64(unstarted),
	}
	if len(relay) > 0 {
		var sum float64
		for _, r := range relay {
			sum += r
		}
		m[unitRelayMean] = sum / float64(len(relay))
		m[unitRelayMax] = slices.Max(relay)
	}
	return result{metrics: m, notes: []string{
		fmt.Sprintf("%d viewers (%d never started), %d chunks due (%d of them never reached the buffer), %d released, %d delays measured; %.1f MB stream published",
			len(vs), unstarted, due, neverCame, released, len(delays), float64(published)/1e6),
		spread(each),
		byTime(vs, log),
		byJoin(vs, log),
		delayNote(vs),
		startupNote(vs),
	}}
}

// byJoin says how continuity spreads over the order in which viewers
// joined, in tenths of the audience: whether the first in, the last in
// (into the storm) or a churn joiner missed the chunks.
func byJoin(vs []*viewer, log *sourceLog) string {
	vs = slices.Clone(vs)
	slices.SortStableFunc(vs, func(x, y *viewer) int { return x.joined.Compare(y.joined) })
	due, rel := make([]uint64, 10), make([]uint64, 10)
	for k := range 10 {
		for _, v := range vs[k*len(vs)/10 : (k+1)*len(vs)/10] {
			due[k] += v.due(log)
			rel[k] += v.stats.Released
		}
	}
	return ratios("continuity by order of joining (tenths):", rel, due)
}

// ratios is title and rel[i] ÷ due[i] for each i, "-" where nothing was due.
func ratios(title string, rel, due []uint64) string {
	var b strings.Builder
	b.WriteString(title)
	for i := range due {
		if due[i] > 0 {
			fmt.Fprintf(&b, " %.3f", float64(rel[i])/float64(due[i]))
		} else {
			b.WriteString(" -")
		}
	}
	return b.String()
}

// delayNote splits the viewers' delay into what they started with (the
// first chunk's) and what their buffers grew for late chunks since.
func delayNote(vs []*viewer) string {
	var first, grown []time.Duration
	for _, v := range vs {
		if len(v.delays) > 0 {
			first = append(first, v.delays[0])
			grown = append(grown, v.stats.Grown)
		}
	}
	return fmt.Sprintf("delay at the start %s; grown since %s", p50p90(first), p50p90(grown))
}

// p50p90 is "p50 … ms, p90 … ms" of d.
func p50p90(d []time.Duration) string {
	return fmt.Sprintf("p50 %d ms, p90 %d ms", int(ms(percentile(d, 50))), int(ms(percentile(d, 90))))
}

// startupNote splits the startup of viewers that joined through a node's
// Join into finding the channel (DHT lookup, dials, manifest), the mesh
// (from then to the first chunk in the buffer: finding neighbours, and
// fetching the newest GOP or waiting for the next keyframe) and the
// buffer's target delay (to the first release); and says how old the
// start chunk was when it reached the buffer, the rest of the delay at
// the start.
func startupNote(vs []*viewer) string {
	var find, mesh, buf, age []time.Duration
	for _, v := range vs {
		if v.first.IsZero() || v.ready.IsZero() {
			continue
		}
		pushed := v.first.Add(-v.stats.StartupTime)
		find = append(find, v.ready.Sub(v.joined))
		mesh = append(mesh, pushed.Sub(v.ready))
		buf = append(buf, v.stats.StartupTime)
		age = append(age, pushed.Sub(v.firstStamp))
	}
	if len(find) == 0 {
		return "startup: no viewer joined through Join"
	}
	return fmt.Sprintf("startup: finding the channel %s; the mesh, to the first chunk in the buffer %s; the buffer %s; the start chunk's age on arrival %s",
		p50p90(find), p50p90(mesh), p50p90(buf), p50p90(age))
}

// byTime says how continuity spreads over the stream's time, in bins of
// binSpan from the first chunk published: whether chunks were missed in
// the join storm or all along. It counts, for each viewer, the chunks
// viewer.due counts surely due (from its first to its end less its
// delays), so a late joiner's bin is not charged for its wait.
func byTime(vs []*viewer, log *sourceLog) string {
	log.mu.Lock()
	stamps := slices.Clone(log.stamps)
	log.mu.Unlock()
	if len(stamps) == 0 {
		return "continuity by stream time: nothing published"
	}
	t0 := stamps[0]
	bin := func(t time.Time) int { return max(0, int(t.Sub(t0)/binSpan)) }
	n := bin(stamps[len(stamps)-1]) + 1
	due, rel := make([]uint64, n), make([]uint64, n)
	for _, v := range vs {
		if v.first.IsZero() {
			continue
		}
		last := v.dueUntil()
		for _, s := range stamps {
			if !s.Before(v.firstStamp) && !s.After(last) {
				due[bin(s)]++
			}
		}
		for _, s := range v.stamps {
			if i := bin(s); i < n && !s.After(last) {
				rel[i]++
			}
		}
	}
	return ratios("continuity by stream time (5 s bins):", rel, due)
}

// binSpan is the width of the notes' bins of stream time.
const binSpan = 5 * time.Second

// due is how many chunks were due at the viewer's buffer after its start.
// The buffer counts a chunk due once it released or skipped it, and it
// skips a missing chunk only when a later one falls due; chunks that never
// came, up to the viewer's end, it never counts. So a viewer whose stream
// stopped (the source or its parents stuck) would keep a perfect score. The
// source's log says what was published: every chunk stamped from the
// viewer's first one until its end, less the most delay the viewer had and
// the buffer's largest delay besides, was surely due.
func (v *viewer) due(log *sourceLog) uint64 {
	if v.first.IsZero() {
		return v.stats.Due
	}
	return max(v.stats.Due, log.count(v.firstStamp, v.dueUntil()))
}

// dueUntil is the last timestamp surely due at the viewer (see due).
func (v *viewer) dueUntil() time.Time { return v.ended.Add(-v.maxDelay - dueMargin) }

// dueMargin is the buffer's largest delay until bb3dfc4 raised it from 2 s
// to 4 s, kept at 2 s so that runs before and after count the same chunks
// due: v.maxDelay already holds what the viewer's buffer grew.
const dueMargin = 2 * time.Second

// spread says how continuity spreads over the viewers: a mean can hide a
// few viewers that hardly played.
func spread(each []float64) string {
	if len(each) == 0 {
		return "no viewer had chunks due"
	}
	slices.Sort(each)
	at := func(p float64) float64 { return each[min(len(each)-1, int(p*float64(len(each))))] }
	below := 0
	for _, c := range each {
		if c < 0.9 {
			below++
		}
	}
	return fmt.Sprintf("continuity by viewer: min %.3f, p10 %.3f, p25 %.3f, p50 %.3f; %d of %d below 0.9",
		each[0], at(0.1), at(0.25), at(0.5), below, len(each))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank p-th percentile; 0 for no samples.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(float64(p)/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// liveHeap is the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// reportResult hands a result to the benchmark, and its notes to the log.
// A run in which nothing was played or sent fails: the suite is broken,
// whatever the figures would say.
func reportResult(b *testing.B, r result) {
	b.Helper()
	for _, k := range []string{unitContinuity, unitIn, unitSrcUp} {
		if v := r.metrics[k]; !(v > 0) {
			b.Errorf("%s is %v: nothing was played or sent", k, v)
		}
	}
	keys := make([]string, 0, len(r.metrics))
	for k := range r.metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := r.metrics[k]; !math.IsNaN(v) {
			b.ReportMetric(v, k)
		}
	}
	// Iterations are whole scenarios: ns/op would only repeat wall-s.
	b.ReportMetric(0, "ns/op")
	for _, n := range r.notes {
		b.Log(n)
	}
}
