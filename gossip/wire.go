package gossip

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/p2ptv/p2ptvd"
)

const (
	// Version is the only wire-format version this code writes and reads.
	Version = 1
	// PartSize is the size of every payload part but the last, which may be
	// short. Each part's sha2-256 is in the signed header, so a part can be
	// checked on its own before it is relayed or played (DESIGN §3).
	PartSize = 8192
	// DefaultMaxPayload bounds a chunk's payload when the Config says nothing.
	DefaultMaxPayload = 1 << 20
	// SignatureDomain is prepended to the signed header bytes so that a chunk
	// signature can never be mistaken for a signature over anything else
	// made with the same key (a manifest, a libp2p record).
	SignatureDomain = "p2ptv chunk v1\x00"
)

const (
	magic       = "P2TV"
	fixedHeader = 38 // magic … part count, before the part hashes
	hashSize    = sha256.Size
	maxCIDLen   = math.MaxUint8
	maxDuration = time.Duration(math.MaxUint32) * time.Microsecond
	knownFlags  = p2ptvd.RandomAccess | p2ptvd.Discontinuity | p2ptvd.EndOfStream
)

// Errors returned by Encode and Open, and counted by the topic validator
// under their reason (the error's text).
var (
	ErrMalformed     = errors.New("malformed chunk")
	ErrVersion       = errors.New("unknown chunk version")
	ErrTooLarge      = errors.New("chunk too large")
	ErrWrongChannel  = errors.New("chunk for another channel")
	ErrBadSignature  = errors.New("bad chunk signature")
	ErrBadPayload    = errors.New("payload does not match signed part hashes")
	ErrBadKey        = errors.New("bad channel key")
	ErrStale         = errors.New("chunk too old")
	ErrFuture        = errors.New("chunk from the future")
	ErrOutOfWindow   = errors.New("chunk outside live window")
	ErrNotOwner      = errors.New("key is not the channel owner's")
	errUnknownReason = errors.New("other")
)

// reasons lists the sentinels in the order reasonOf tests them.
var reasons = [...]error{
	ErrMalformed, ErrVersion, ErrTooLarge, ErrWrongChannel, ErrBadSignature,
	ErrBadPayload, ErrBadKey, ErrStale, ErrFuture, ErrOutOfWindow, ErrNotOwner,
	ErrBadGroup,
}

// reasonOf names the sentinel err wraps; the names key the reject counters.
func reasonOf(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return r.Error()
		}
	}
	return errUnknownReason.Error()
}

// MaxMessageSize returns the size of the largest message a chunk with a
// payload of maxPayload bytes encodes to.
func MaxMessageSize(maxPayload int) int {
	return headerSize(partCount(maxPayload), maxCIDLen) + ed25519.SignatureSize + maxPayload
}

func partCount(payload int) int { return (payload + PartSize - 1) / PartSize }

// headerSize is the number of signed bytes: everything before the signature.
func headerSize(parts, cidLen int) int { return fixedHeader + parts*hashSize + 1 + cidLen }

// Encode returns the wire form of c signed with key, the channel owner's
// private key. c.Channel must be set.
func Encode(c p2ptvd.Chunk, key ed25519.PrivateKey) ([]byte, error) {
	return encode(c, key, DefaultMaxPayload)
}

func encode(c p2ptvd.Chunk, key ed25519.PrivateKey, maxPayload int) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("encode chunk %d: %w: private key is %d bytes", c.Seq, ErrBadKey, len(key))
	}
	if !c.Channel.Defined() {
		return nil, fmt.Errorf("encode chunk %d: %w: no channel", c.Seq, ErrMalformed)
	}
	if len(c.Payload) > maxPayload || uint64(len(c.Payload)) > math.MaxUint32 {
		return nil, fmt.Errorf("encode chunk %d: %w: payload %d bytes, limit %d", c.Seq, ErrTooLarge, len(c.Payload), maxPayload)
	}
	if c.Flags&^knownFlags != 0 {
		return nil, fmt.Errorf("encode chunk %d: %w: unknown flags %08b", c.Seq, ErrMalformed, c.Flags)
	}
	if c.Duration < 0 || c.Duration > maxDuration {
		return nil, fmt.Errorf("encode chunk %d: %w: duration %s", c.Seq, ErrMalformed, c.Duration)
	}
	// UnixNano is undefined outside 1678–2262 (a zero Timestamp is a bug).
	if !time.Unix(0, c.Timestamp.UnixNano()).Equal(c.Timestamp) {
		return nil, fmt.Errorf("encode chunk %d: %w: timestamp %s", c.Seq, ErrMalformed, c.Timestamp)
	}
	cid := c.Channel.Bytes()
	parts := partCount(len(c.Payload))
	if parts > math.MaxUint16 {
		return nil, fmt.Errorf("encode chunk %d: %w: %d parts", c.Seq, ErrTooLarge, parts)
	}
	hdr := headerSize(parts, len(cid))

	// The domain string sits in front of the header in the same array so the
	// signed bytes are contiguous without a copy; the returned slice starts
	// after it.
	d := len(SignatureDomain)
	buf := make([]byte, d+hdr+ed25519.SignatureSize+len(c.Payload))
	copy(buf, SignatureDomain)
	b := buf[d:]
	copy(b, magic)
	b[4] = Version
	b[5] = byte(c.Flags)
	binary.BigEndian.PutUint16(b[6:], 0)
	binary.BigEndian.PutUint64(b[8:], c.Seq)
	binary.BigEndian.PutUint64(b[16:], uint64(c.Timestamp.UnixNano()))
	binary.BigEndian.PutUint32(b[24:], uint32(c.Duration/time.Microsecond))
	binary.BigEndian.PutUint32(b[28:], uint32(len(c.Payload)))
	binary.BigEndian.PutUint32(b[32:], PartSize)
	binary.BigEndian.PutUint16(b[36:], uint16(parts))
	off := fixedHeader
	for i := 0; i < parts; i++ {
		sum := sha256.Sum256(part(c.Payload, i))
		off += copy(b[off:], sum[:])
	}
	b[off] = byte(len(cid))
	off++
	off += copy(b[off:], cid)
	sig := ed25519.Sign(key, buf[:d+hdr])
	off += copy(b[off:], sig)
	copy(b[off:], c.Payload)
	return b, nil
}

func part(payload []byte, i int) []byte {
	end := min((i+1)*PartSize, len(payload))
	return payload[i*PartSize : end]
}

// header is the parsed, not yet verified, fixed part of a chunk message.
type header struct {
	flags      p2ptvd.Flags
	seq        uint64
	timestamp  int64
	duration   uint32
	payloadLen int
	parts      int
	hashes     []byte // parts × 32
	cid        []byte
	signed     []byte // every byte before the signature
	sig        []byte
	payload    []byte
}

// parseHeader checks the message's structure: magic, version, reserved
// bits, lengths and bounds. It does no cryptography.
func parseHeader(msg []byte, maxPayload int) (header, error) {
	h, off, err := parsePrefix(msg, maxPayload)
	if err != nil {
		return h, err
	}
	if got := len(msg) - off; got != h.payloadLen {
		return h, fmt.Errorf("%w: payload is %d bytes, header says %d", ErrMalformed, got, h.payloadLen)
	}
	h.payload = msg[off:]
	return h, nil
}

// parseHead parses a chunk's head, the message up to its payload, which is
// what travels ahead of the parts in a partial message. It does no
// cryptography.
func parseHead(head []byte, maxPayload int) (header, error) {
	h, off, err := parsePrefix(head, maxPayload)
	if err != nil {
		return h, err
	}
	if off != len(head) {
		return h, fmt.Errorf("%w: head is %d bytes, header says %d", ErrMalformed, len(head), off)
	}
	return h, nil
}

// openHead verifies a head (the message up to its payload) as the head of
// a chunk of channel id signed by owner.
func openHead(head []byte, id p2ptvd.ChannelID, owner ed25519.PublicKey, maxPayload int) (header, error) {
	h, err := parseHead(head, maxPayload)
	if err != nil {
		return h, fmt.Errorf("open head: %w", err)
	}
	if err := h.verify(id, owner); err != nil {
		return h, fmt.Errorf("open head %d: %w", h.seq, err)
	}
	return h, nil
}

// parsePrefix parses everything up to the payload and returns the offset
// at which the payload starts.
func parsePrefix(msg []byte, maxPayload int) (header, int, error) {
	h, err := parseFixed(msg, maxPayload)
	if err != nil {
		return h, 0, err
	}
	off := fixedHeader + h.parts*hashSize
	if len(msg) < off+1 {
		return h, 0, fmt.Errorf("%w: truncated part hashes", ErrMalformed)
	}
	h.hashes = msg[fixedHeader:off]
	cidLen := int(msg[off])
	off++
	if len(msg) < off+cidLen+ed25519.SignatureSize {
		return h, 0, fmt.Errorf("%w: truncated header", ErrMalformed)
	}
	h.cid = msg[off : off+cidLen]
	off += cidLen
	h.signed = msg[:off]
	h.sig = msg[off : off+ed25519.SignatureSize]
	off += ed25519.SignatureSize
	return h, off, nil
}

func parseFixed(msg []byte, maxPayload int) (header, error) {
	var h header
	if len(msg) < fixedHeader {
		return h, fmt.Errorf("%w: %d bytes", ErrMalformed, len(msg))
	}
	if string(msg[:4]) != magic {
		return h, fmt.Errorf("%w: bad magic %q", ErrMalformed, msg[:4])
	}
	if msg[4] != Version {
		return h, fmt.Errorf("%w %d", ErrVersion, msg[4])
	}
	h.flags = p2ptvd.Flags(msg[5])
	if h.flags&^knownFlags != 0 {
		return h, fmt.Errorf("%w: unknown flags %08b", ErrMalformed, h.flags)
	}
	if r := binary.BigEndian.Uint16(msg[6:]); r != 0 {
		return h, fmt.Errorf("%w: reserved bits %04x", ErrMalformed, r)
	}
	h.seq = binary.BigEndian.Uint64(msg[8:])
	h.timestamp = int64(binary.BigEndian.Uint64(msg[16:]))
	h.duration = binary.BigEndian.Uint32(msg[24:])
	payloadLen := uint64(binary.BigEndian.Uint32(msg[28:]))
	if payloadLen > uint64(maxPayload) {
		return h, fmt.Errorf("%w: payload %d bytes, limit %d", ErrTooLarge, payloadLen, maxPayload)
	}
	h.payloadLen = int(payloadLen)
	if ps := binary.BigEndian.Uint32(msg[32:]); ps != PartSize {
		return h, fmt.Errorf("%w: part size %d, want %d", ErrMalformed, ps, PartSize)
	}
	h.parts = int(binary.BigEndian.Uint16(msg[36:]))
	if h.parts != partCount(h.payloadLen) {
		return h, fmt.Errorf("%w: %d parts for %d bytes", ErrMalformed, h.parts, h.payloadLen)
	}
	return h, nil
}

// Open verifies msg as a chunk of channel id signed by owner and returns
// it. The chunk's payload aliases msg. Every failure wraps one of the
// sentinel errors.
func Open(msg []byte, id p2ptvd.ChannelID, owner ed25519.PublicKey) (p2ptvd.Chunk, error) {
	return open(msg, id, owner, DefaultMaxPayload)
}

func open(msg []byte, id p2ptvd.ChannelID, owner ed25519.PublicKey, maxPayload int) (p2ptvd.Chunk, error) {
	if len(owner) != ed25519.PublicKeySize {
		return p2ptvd.Chunk{}, fmt.Errorf("open chunk: %w: public key is %d bytes", ErrBadKey, len(owner))
	}
	if !id.Defined() {
		return p2ptvd.Chunk{}, fmt.Errorf("open chunk: %w: no channel given", ErrWrongChannel)
	}
	if len(msg) > MaxMessageSize(maxPayload) {
		return p2ptvd.Chunk{}, fmt.Errorf("open chunk: %w: message %d bytes", ErrTooLarge, len(msg))
	}
	h, err := parseHeader(msg, maxPayload)
	if err != nil {
		return p2ptvd.Chunk{}, fmt.Errorf("open chunk: %w", err)
	}
	if err := h.verify(id, owner); err != nil {
		return p2ptvd.Chunk{}, fmt.Errorf("open chunk %d: %w", h.seq, err)
	}
	for i := 0; i < h.parts; i++ {
		if !h.checkPart(i, part(h.payload, i)) {
			return p2ptvd.Chunk{}, fmt.Errorf("open chunk %d: %w: part %d", h.seq, ErrBadPayload, i)
		}
	}
	return h.chunk(id, h.payload), nil
}

// verify checks that the header names channel id and is signed by owner.
func (h header) verify(id p2ptvd.ChannelID, owner ed25519.PublicKey) error {
	if !bytes.Equal(h.cid, id.Bytes()) {
		return ErrWrongChannel
	}
	signed := make([]byte, 0, len(SignatureDomain)+len(h.signed))
	signed = append(append(signed, SignatureDomain...), h.signed...)
	if !ed25519.Verify(owner, signed, h.sig) {
		return ErrBadSignature
	}
	return nil
}

// checkPart reports whether data is part i of the payload the header signs.
func (h header) checkPart(i int, data []byte) bool {
	if i < 0 || i >= h.parts || len(data) != h.partLen(i) {
		return false
	}
	sum := sha256.Sum256(data)
	return bytes.Equal(sum[:], h.hashes[i*hashSize:(i+1)*hashSize])
}

// partLen is the length of part i: PartSize for all but the last.
func (h header) partLen(i int) int {
	if i == h.parts-1 {
		return h.payloadLen - i*PartSize
	}
	return PartSize
}

func (h header) chunk(id p2ptvd.ChannelID, payload []byte) p2ptvd.Chunk {
	return p2ptvd.Chunk{
		Channel:   id,
		Seq:       h.seq,
		Timestamp: time.Unix(0, h.timestamp).UTC(),
		Duration:  time.Duration(h.duration) * time.Microsecond,
		Flags:     h.flags,
		Payload:   payload,
	}
}

// messageID names a pubsub message. The prefix is the chunk's (channel,
// seq) so IDs read as what they carry; the suffix is a digest of the topic
// and every byte of the message. The digest matters: pubsub marks an ID
// seen before it validates the message and then treats any later copy of
// that ID as a copy of the rejected message (dropped, its sender penalised).
// With (channel, seq) alone, a rogue could send a forged chunk for a seq
// the broadcaster has not yet published (or a corrupt copy of one it has)
// and so poison the real chunk at every node it reaches first.
func messageID(topic string, data []byte) string {
	d := sha256.New()
	d.Write([]byte(topic))
	d.Write([]byte{0})
	d.Write(data)
	var sum [hashSize]byte
	digest := d.Sum(sum[:0])[:16]

	h, err := parseHeader(data, math.MaxInt)
	if err != nil || len(h.cid) != cidSize || h.cid[0] == 0 {
		// Anything that does not parse is rejected by the validator; its ID
		// only has to be distinct. The 0 byte cannot start a CID.
		return string(append([]byte{0}, digest...))
	}
	id := make([]byte, 0, len(h.cid)+8+len(digest))
	id = append(id, h.cid...)
	id = binary.BigEndian.AppendUint64(id, h.seq)
	return string(append(id, digest...))
}

// cidSize is the length of a channel ID in binary: CIDv1, raw, sha2-256.
const cidSize = 36
