package media

import (
	"bytes"
	"fmt"
	"io"

	"github.com/p2ptv/p2ptvd"
)

const (
	// confirmPackets is how many consecutive sync bytes, 188 bytes apart,
	// the Reader wants to see before it trusts a sync position: a 0x47 in
	// garbage passes for a packet with probability 2^-16. The cost is that
	// fewer packets than this between two runs of garbage are skipped with
	// the garbage.
	confirmPackets = 3
	// notTSLimit is how far into its input the Reader looks for the first
	// packet before it gives up with ErrNotTS.
	notTSLimit  = 64 << 10
	readBufSize = 128 << 10
	// maxEmptyReads guards against an io.Reader that returns 0, nil forever.
	maxEmptyReads = 100
)

// Reader splits a byte stream into TS packets. It finds the packet grid by
// looking for the sync byte at 188-byte intervals, skips garbage between
// packets and resynchronises, counting what it skipped. It does not
// allocate per packet: Next returns a view into its buffer.
//
// Limits, inherent to telling packets from garbage by sync bytes: fewer
// than three packets between two runs of garbage go with the garbage; and
// a run of garbage that starts with 0x47 can pass for one packet, which is
// spotted (and the real packet it overlaps kept) only if the garbage is
// shorter than a packet and the bytes after it were already read.
type Reader struct {
	r      io.Reader
	buf    []byte
	start  int // buf[start:end] is unread input
	end    int
	err    error // sticky error from r (io.EOF at the end)
	synced bool
	found  bool // a packet has been returned since the reader was made

	packets, skipped, resyncs, truncated uint64
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, readBufSize)}
}

// Reset makes the Reader read from r as if from the start, keeping its
// counters (a looped file is read again this way).
func (r *Reader) Reset(src io.Reader) {
	r.r = src
	r.start, r.end = 0, 0
	r.err = nil
	r.synced = false
}

// Next returns the next packet. The packet aliases the Reader's buffer: it
// is valid, and may be modified in place, until the next call. At the end
// of the input Next drops a trailing partial packet (counted in
// Stats.TruncatedBytes) and returns io.EOF, or the reader's error. It
// returns an error wrapping ErrNotTS if no packet starts within the first
// 64 KiB of input, or the input ends before any packet (empty input is
// just io.EOF).
func (r *Reader) Next() (Packet, error) {
	for {
		if r.synced {
			if !r.fill(p2ptvd.PacketSize) {
				return nil, r.finish()
			}
			if r.buf[r.start] == syncByte {
				if r.end-r.start > p2ptvd.PacketSize && r.buf[r.start+p2ptvd.PacketSize] != syncByte {
					// The next packet is not where it should be. Either
					// garbage follows this packet, or this is garbage that
					// happens to start with a sync byte and the stream
					// resumes inside it: then skip to where it resumes.
					// (Only looked at when the next bytes are already
					// buffered: a live stream is not delayed for it.)
					if q := r.resumesWithin(); q > 0 {
						r.start += q
						r.skipped += uint64(q)
						r.resyncs++
						continue
					}
				}
				p := Packet(r.buf[r.start : r.start+p2ptvd.PacketSize : r.start+p2ptvd.PacketSize])
				r.start += p2ptvd.PacketSize
				r.packets++
				r.found = true
				return p, nil
			}
			r.synced = false
		}
		if err := r.sync(); err != nil {
			return nil, err
		}
	}
}

// sync discards input up to the next position where confirmPackets sync
// bytes line up (or as many as the remaining input holds).
func (r *Reader) sync() error {
	var skipped uint64
	skip := func(n int) {
		r.start += n
		skipped += uint64(n)
		r.skipped += uint64(n)
	}
	for {
		if !r.found && r.skipped >= notTSLimit {
			return fmt.Errorf("%w: no packet sync in the first %d bytes", ErrNotTS, r.skipped)
		}
		if !r.fill(p2ptvd.PacketSize) {
			return r.finish()
		}
		i := bytes.IndexByte(r.buf[r.start:r.end], syncByte)
		if i < 0 {
			skip(r.end - r.start)
			continue
		}
		if i > 0 {
			skip(i)
			continue // refill so that a whole packet follows the candidate
		}
		if r.confirm(0) {
			r.synced = true
			if skipped > 0 {
				r.resyncs++
			}
			return nil
		}
		skip(1)
	}
}

// confirm reports whether packets line up from buf[start+i]: a sync byte
// there and at the next confirmPackets-1 packet starts, as far as the
// input goes, with at least one whole packet.
func (r *Reader) confirm(i int) bool {
	r.fill(i + (confirmPackets-1)*p2ptvd.PacketSize + 1)
	avail := r.end - r.start
	if i+p2ptvd.PacketSize > avail || r.buf[r.start+i] != syncByte {
		return false
	}
	for k := 1; k < confirmPackets; k++ {
		o := i + k*p2ptvd.PacketSize
		if o >= avail {
			break // end of input: trust what there is
		}
		if r.buf[r.start+o] != syncByte {
			return false
		}
	}
	return true
}

// resumesWithin returns the offset inside the packet at start where
// confirmed packets begin, or 0.
func (r *Reader) resumesWithin() int {
	for i := 1; i < p2ptvd.PacketSize; i++ {
		j := bytes.IndexByte(r.buf[r.start+i:r.start+p2ptvd.PacketSize], syncByte)
		if j < 0 {
			return 0
		}
		i += j
		if r.confirm(i) {
			return i
		}
	}
	return 0
}

// fill makes at least n bytes available, reading as needed; false if the
// input ended (or failed) first.
func (r *Reader) fill(n int) bool {
	empty := 0
	for r.end-r.start < n {
		if r.err != nil {
			return false
		}
		if len(r.buf)-r.start < n || (r.start > 0 && len(r.buf)-r.end < len(r.buf)/8) {
			copy(r.buf, r.buf[r.start:r.end])
			r.end -= r.start
			r.start = 0
		}
		m, err := r.r.Read(r.buf[r.end:])
		if m < 0 || m > len(r.buf)-r.end {
			m, err = 0, fmt.Errorf("read ts: reader returned %d bytes", m)
		}
		r.end += m
		if err != nil {
			r.err = err
		} else if m == 0 {
			if empty++; empty >= maxEmptyReads {
				r.err = io.ErrNoProgress
			}
		}
	}
	return true
}

// finish accounts for what is left at the end of the input and returns
// the error that ends it.
func (r *Reader) finish() error {
	if rest := r.end - r.start; rest > 0 {
		if r.buf[r.start] == syncByte {
			r.truncated += uint64(rest)
		} else {
			r.skipped += uint64(rest)
		}
		r.start = r.end
	}
	if !r.found && (r.skipped > 0 || r.truncated > 0) && r.err == io.EOF {
		return fmt.Errorf("%w: no packet in %d bytes of input", ErrNotTS, r.skipped+r.truncated)
	}
	return r.err
}

// Stats returns the Reader's counters: Packets, Bytes, SkippedBytes,
// Resyncs and TruncatedBytes.
func (r *Reader) Stats() Stats {
	return Stats{
		Packets:        r.packets,
		Bytes:          r.packets*p2ptvd.PacketSize + r.skipped + r.truncated,
		SkippedBytes:   r.skipped,
		Resyncs:        r.resyncs,
		TruncatedBytes: r.truncated,
	}
}
