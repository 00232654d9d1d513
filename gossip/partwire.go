package gossip

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
)

// The partial-message wire format (doc.go, "Partial messages"): a group ID
// per chunk, parts metadata (have/want bitmaps and subscription bits) and
// data (an optional head and some parts).

const (
	partialVersion = 1
	// groupIDSize is seq (8) ‖ the first 16 bytes of sha2-256(domain ‖ head).
	groupIDSize = 24
	groupDomain = "p2ptv group v1\x00"
	// maxBitmap bounds a bitmap to 255 bytes, so partial messages carry
	// chunks of up to 2040 parts (16 MiB); MaxPayload is clamped to that.
	maxBitmap = 255
	maxParts  = maxBitmap * 8
	// maxHead bounds a head: the signed header of a 2040-part chunk with the
	// longest CID, and its signature.
	maxHead = fixedHeader + maxParts*hashSize + 1 + maxCIDLen + 64
)

// errUnknownVersion marks a partial message of a version this code does not
// speak: ignored, not penalised.
var errUnknownVersion = errors.New("unknown partial message version")

// groupID binds a chunk's group to its head: the seq in the clear (so a
// peer can place a group it has no head for yet in the live window) and a
// digest of the head, so a head that arrives for a group must hash to it.
func groupID(seq uint64, head []byte) string {
	d := sha256.New()
	d.Write([]byte(groupDomain))
	d.Write(head)
	var sum [sha256.Size]byte
	id := make([]byte, 8, groupIDSize)
	binary.BigEndian.PutUint64(id, seq)
	return string(append(id, d.Sum(sum[:0])[:groupIDSize-8]...))
}

func groupSeq(gid string) (uint64, bool) {
	if len(gid) != groupIDSize {
		return 0, false
	}
	return binary.BigEndian.Uint64([]byte(gid[:8])), true
}

// bitmap is a set of part indices, bit i%8 of byte i/8.
type bitmap []byte

func newBitmap(n int) bitmap { return make(bitmap, (n+7)/8) }

// LogValue prints b as its bytes in binary, formatted only when logged.
func (b bitmap) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%08b", []byte(b))) }

func (b bitmap) has(i int) bool {
	return i >= 0 && i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0
}

// set sets bit i, which must be inside b.
func (b bitmap) set(i int) {
	if i >= 0 && i/8 < len(b) {
		b[i/8] |= 1 << (i % 8)
	}
}

func (b bitmap) clear(i int) {
	if i >= 0 && i/8 < len(b) {
		b[i/8] &^= 1 << (i % 8)
	}
}

func (b bitmap) count() int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}

func (b bitmap) empty() bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// intersects reports whether b and o share a set bit.
func (b bitmap) intersects(o bitmap) bool {
	for i := range min(len(b), len(o)) {
		if b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// or sets in b every bit of o that fits in b.
func (b bitmap) or(o bitmap) {
	for i := range min(len(b), len(o)) {
		b[i] |= o[i]
	}
}

// Metadata flags.
const (
	// metaHead: the sender holds the group's verified head. On a request it
	// means "do not send me the head".
	metaHead byte = 1 << iota
	// metaRAP: the group's chunk is a random-access point (a joiner starts
	// fetching at one).
	metaRAP
	// metaBusy: the sender serves no requests now (its uplink is full, or it
	// only consumes); ask someone else.
	metaBusy
	// metaSeed: the ack bits are subscriptions the source assigned to the
	// receiver; take the sender as parent for them.
	metaSeed
	// metaHeads: with sub bits, put the head in the first push of each
	// group (the receiver's one head source).
	metaHeads
	// metaPeers: the sender has few peers in the channel; introduce some.
	metaPeers
	// metaStart: the sender has not started playing; what it asks for
	// behind the live edge is the start of its stream (a GOP), not a
	// repair of a chunk it is about to play.
	metaStart
	knownMetaFlags = metaHead | metaRAP | metaBusy | metaSeed | metaHeads | metaPeers | metaStart
)

// Metadata bitmaps, in wire order.
const (
	bmHave  = iota // parts the sender holds, verified
	bmWant         // parts the sender asks for now
	bmSub          // indices the sender wants pushed from now on
	bmUnsub        // indices the sender no longer wants pushed
	bmAck          // indices of the receiver's sub bits the sender accepted
	bmDrop         // indices the sender stops pushing to the receiver
	bmCount
)

// depthMask marks the depths section in the mask byte.
const depthMask = 1 << bmCount

// meta is the parts metadata of one RPC.
type meta struct {
	flags byte
	free  uint8 // the sender's spare subscription slots
	bm    [bmCount]bitmap
	// depth, if not nil, holds one byte per part index (8 per bitmap
	// byte): the sender's hops from the source for that index, 255 if it
	// has no parent for it. Children pick shallow parents with it.
	depth []byte
}

func (m *meta) encode() []byte {
	l := 0
	var mask byte
	for i, b := range m.bm {
		if b != nil {
			mask |= 1 << i
			l = max(l, len(b))
		}
	}
	l = max(l, (len(m.depth)+7)/8)
	l = min(max(l, 1), maxBitmap)
	n := 5 + bits.OnesCount8(mask)*l
	if m.depth != nil {
		mask |= depthMask
		n += 8 * l
	}
	out := make([]byte, 5, n)
	out[0], out[1], out[2], out[3], out[4] = partialVersion, m.flags, m.free, mask, byte(l)
	for _, b := range m.bm {
		if b != nil {
			start := len(out)
			out = append(out, make([]byte, l)...)
			copy(out[start:], b)
		}
	}
	if m.depth != nil {
		start := len(out)
		out = append(out, make([]byte, 8*l)...)
		for i := copy(out[start:], m.depth); start+i < len(out); i++ {
			out[start+i] = noDepth
		}
	}
	return out
}

// noDepth is the depth of an index the sender has no parent for.
const noDepth = 255

func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) == 0 {
		return m, nil
	}
	if b[0] != partialVersion {
		return m, errUnknownVersion
	}
	if len(b) < 5 {
		return m, fmt.Errorf("%w: metadata of %d bytes", ErrMalformed, len(b))
	}
	m.flags, m.free = b[1], b[2]
	mask, l := b[3], int(b[4])
	// Without bitmaps the length is 1: one encoding for each metadata.
	if m.flags&^knownMetaFlags != 0 || mask>>(bmCount+1) != 0 || l == 0 || mask == 0 && l != 1 {
		return m, fmt.Errorf("%w: metadata flags %08b, mask %08b, bitmap length %d", ErrMalformed, m.flags, mask, l)
	}
	want := 5 + bits.OnesCount8(mask&^depthMask)*l
	if mask&depthMask != 0 {
		want += 8 * l
	}
	if len(b) != want {
		return m, fmt.Errorf("%w: metadata is %d bytes, want %d", ErrMalformed, len(b), want)
	}
	off := 5
	for i := range m.bm {
		if mask&(1<<i) != 0 {
			m.bm[i] = bitmap(b[off : off+l : off+l])
			off += l
		}
	}
	if mask&depthMask != 0 {
		m.depth = b[off : off+8*l : off+8*l]
	}
	return m, nil
}

// Data flags.
const (
	dataHead       byte = 1
	dataPeers      byte = 2
	knownDataFlags      = dataHead | dataPeers
)

// dataPart is one part of a chunk's payload in a data message.
type dataPart struct {
	index int
	data  []byte
}

// data is the partial message of one RPC: maybe the head, maybe peers
// introduced, and parts.
type data struct {
	head  []byte
	peers []intro
	parts []dataPart
}

// intro is a peer introduced to one that has few: its ID and addresses,
// binary, as the introducer's peerstore has them.
type intro struct {
	id    []byte
	addrs [][]byte
}

// Bounds on introductions.
const (
	maxIntros     = 16
	maxIntroAddrs = 4
	maxIntroID    = 64
	maxIntroAddr  = 256
)

func (d *data) size() int {
	n := 2
	if d.head != nil {
		n += 4 + len(d.head)
	}
	if d.peers != nil {
		n++
		for _, p := range d.peers {
			n += 2 + len(p.id)
			for _, a := range p.addrs {
				n += 2 + len(a)
			}
		}
	}
	for _, p := range d.parts {
		n += 4 + len(p.data)
	}
	return n
}

func (d *data) encode() []byte {
	out := make([]byte, 2, d.size())
	out[0] = partialVersion
	if d.head != nil {
		out[1] |= dataHead
		out = binary.BigEndian.AppendUint32(out, uint32(len(d.head)))
		out = append(out, d.head...)
	}
	if d.peers != nil {
		out[1] |= dataPeers
		out = append(out, byte(len(d.peers)))
		for _, p := range d.peers {
			out = append(out, byte(len(p.id)))
			out = append(out, p.id...)
			out = append(out, byte(len(p.addrs)))
			for _, a := range p.addrs {
				out = binary.BigEndian.AppendUint16(out, uint16(len(a)))
				out = append(out, a...)
			}
		}
	}
	for _, p := range d.parts {
		out = binary.BigEndian.AppendUint16(out, uint16(p.index))
		out = binary.BigEndian.AppendUint16(out, uint16(len(p.data)))
		out = append(out, p.data...)
	}
	return out
}

// decodeData parses a data message. Parts come in increasing index order,
// each 1..PartSize bytes; the slices alias b.
func decodeData(b []byte) (data, error) {
	var d data
	if len(b) == 0 {
		return d, nil
	}
	if b[0] != partialVersion {
		return d, errUnknownVersion
	}
	if len(b) < 2 || b[1]&^knownDataFlags != 0 {
		return d, fmt.Errorf("%w: data header", ErrMalformed)
	}
	off := 2
	if b[1]&dataHead != 0 {
		if len(b) < off+4 {
			return d, fmt.Errorf("%w: truncated head length", ErrMalformed)
		}
		n := binary.BigEndian.Uint32(b[off:])
		off += 4
		if n == 0 || n > maxHead || uint64(len(b)-off) < uint64(n) {
			return d, fmt.Errorf("%w: head of %d bytes", ErrMalformed, n)
		}
		d.head = b[off : off+int(n) : off+int(n)]
		off += int(n)
	}
	if b[1]&dataPeers != 0 {
		var err error
		if d.peers, off, err = decodeIntros(b, off); err != nil {
			return d, err
		}
	}
	last := -1
	for off < len(b) {
		if len(b) < off+4 {
			return d, fmt.Errorf("%w: truncated part", ErrMalformed)
		}
		i := int(binary.BigEndian.Uint16(b[off:]))
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		if i <= last || i >= maxParts || n == 0 || n > PartSize || len(b)-off < n {
			return d, fmt.Errorf("%w: part %d of %d bytes after part %d", ErrMalformed, i, n, last)
		}
		d.parts = append(d.parts, dataPart{index: i, data: b[off : off+n : off+n]})
		off += n
		last = i
	}
	return d, nil
}

func decodeIntros(b []byte, off int) ([]intro, int, error) {
	bad := func(what string) ([]intro, int, error) {
		return nil, 0, fmt.Errorf("%w: introductions: %s", ErrMalformed, what)
	}
	if len(b) < off+1 {
		return bad("truncated")
	}
	n := int(b[off])
	off++
	if n > maxIntros {
		return bad("too many")
	}
	peers := make([]intro, 0, n)
	for range n {
		if len(b) < off+1 {
			return bad("truncated")
		}
		l := int(b[off])
		off++
		if l == 0 || l > maxIntroID || len(b) < off+l+1 {
			return bad("peer ID")
		}
		p := intro{id: b[off : off+l : off+l]}
		off += l
		na := int(b[off])
		off++
		if na > maxIntroAddrs {
			return bad("too many addresses")
		}
		for range na {
			if len(b) < off+2 {
				return bad("truncated")
			}
			al := int(binary.BigEndian.Uint16(b[off:]))
			off += 2
			if al == 0 || al > maxIntroAddr || len(b) < off+al {
				return bad("address")
			}
			p.addrs = append(p.addrs, b[off:off+al:off+al])
			off += al
		}
		peers = append(peers, p)
	}
	return peers, off, nil
}
