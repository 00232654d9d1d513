package gossip

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// testChannel is a manifest, its ID and its owner's key.
type testChannel struct {
	m   p2ptvd.Manifest
	id  p2ptvd.ChannelID
	key ed25519.PrivateKey
}

func newTestChannel(t testing.TB, name string) testChannel {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := p2ptvd.Manifest{Owner: pub, Name: name, Created: time.Unix(1700000000, 0).UTC(),
		Hints: p2ptvd.StreamHints{Codec: "h264", Bitrate: 4e6, ChunkDuration: 250 * time.Millisecond}}
	id, err := m.ID()
	if err != nil {
		t.Fatal(err)
	}
	return testChannel{m: m, id: id, key: key}
}

// payload returns n bytes that differ from chunk to chunk.
func payload(seq uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int(seq)*31 + i*7)
	}
	return b
}

func (tc testChannel) chunk(seq uint64, n int, ts time.Time) p2ptvd.Chunk {
	return p2ptvd.Chunk{Channel: tc.id, Seq: seq, Timestamp: ts, Duration: 250 * time.Millisecond,
		Flags: p2ptvd.RandomAccess, Payload: payload(seq, n)}
}

func sameChunk(a, b p2ptvd.Chunk) bool {
	return a.Channel == b.Channel && a.Seq == b.Seq && a.Timestamp.Equal(b.Timestamp) &&
		a.Duration == b.Duration && a.Flags == b.Flags && bytes.Equal(a.Payload, b.Payload)
}

func TestEncodeOpenRoundTrip(t *testing.T) {
	tc := newTestChannel(t, "rt")
	ts := time.Unix(1700000123, 456789).UTC()
	for _, n := range []int{0, 1, 188, PartSize - 1, PartSize, PartSize + 1, 64 << 10, 7*PartSize + 188, DefaultMaxPayload} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := tc.chunk(uint64(n)+1<<40, n, ts)
			c.Flags = p2ptvd.RandomAccess | p2ptvd.Discontinuity | p2ptvd.EndOfStream
			c.Duration = 1234567 * time.Microsecond
			msg, err := Encode(c, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(msg), headerSize(partCount(n), cidSize)+ed25519.SignatureSize+n; got != want {
				t.Errorf("message is %d bytes, want %d", got, want)
			}
			if len(msg) > MaxMessageSize(DefaultMaxPayload) {
				t.Errorf("message %d bytes exceeds MaxMessageSize %d", len(msg), MaxMessageSize(DefaultMaxPayload))
			}
			got, err := Open(msg, tc.id, tc.m.Owner)
			if err != nil {
				t.Fatal(err)
			}
			if !sameChunk(got, c) {
				t.Errorf("Open = %+v, want %+v", got, c)
			}
		})
	}
}

// TestWireLayout pins the byte layout doc.go documents.
func TestWireLayout(t *testing.T) {
	tc := newTestChannel(t, "layout")
	c := tc.chunk(0x0102030405060708, PartSize+10, time.Unix(0, 0x1122334455667788))
	c.Duration = 0x0a0b0c0d * time.Microsecond
	msg, err := Encode(c, tc.key)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	checks := []struct {
		name      string
		got, want any
	}{
		{"magic", string(msg[0:4]), "P2TV"},
		{"version", msg[4], byte(1)},
		{"flags", msg[5], byte(p2ptvd.RandomAccess)},
		{"reserved", be.Uint16(msg[6:]), uint16(0)},
		{"seq", be.Uint64(msg[8:]), uint64(0x0102030405060708)},
		{"timestamp", be.Uint64(msg[16:]), uint64(0x1122334455667788)},
		{"duration", be.Uint32(msg[24:]), uint32(0x0a0b0c0d)},
		{"payload length", be.Uint32(msg[28:]), uint32(PartSize + 10)},
		{"part size", be.Uint32(msg[32:]), uint32(8192)},
		{"part count", be.Uint16(msg[36:]), uint16(2)},
		{"cid length", msg[38+64], byte(36)},
		{"cid", string(msg[39+64 : 39+64+36]), string(tc.id.Bytes())},
		{"payload", string(msg[39+64+36+64:]), string(c.Payload)},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	signed := append([]byte("p2ptv chunk v1\x00"), msg[:39+64+36]...)
	if !ed25519.Verify(tc.m.Owner, signed, msg[39+64+36:39+64+36+64]) {
		t.Error("signature does not cover domain string + header")
	}
}

// TestOpenRejectsEveryBitFlip flips single bits: every bit of a one-part
// chunk; of a two-part chunk every bit before the payload and a bit of
// every 61st payload byte (each part's bytes are checked the same way).
func TestOpenRejectsEveryBitFlip(t *testing.T) {
	tc := newTestChannel(t, "flip")
	for _, n := range []int{300, PartSize + 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			msg, err := Encode(tc.chunk(9, n, time.Unix(1700000000, 0)), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			payloadAt := len(msg) - n
			bad := make([]byte, len(msg))
			for i := range len(msg) * 8 {
				byteAt, bit := i/8, i%8
				if n > PartSize && byteAt >= payloadAt && ((byteAt-payloadAt)%61 != 0 || bit != byteAt%8) {
					continue
				}
				copy(bad, msg)
				bad[byteAt] ^= 1 << bit
				if _, err := Open(bad, tc.id, tc.m.Owner); err == nil {
					t.Fatalf("bit %d of byte %d flipped: Open accepted it", bit, byteAt)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tc := newTestChannel(t, "errors")
	other := newTestChannel(t, "other")
	ts := time.Unix(1700000000, 0)
	good, err := Encode(tc.chunk(1, 1000, ts), tc.key)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := Encode(tc.chunk(1, 1000, ts), other.key)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := Encode(other.chunk(1, 1000, ts), other.key)
	if err != nil {
		t.Fatal(err)
	}
	// A header that claims more payload than allowed, with nothing after it.
	huge := bytes.Clone(good[:fixedHeader])
	binary.BigEndian.PutUint32(huge[28:], DefaultMaxPayload+1)
	v2 := bytes.Clone(good)
	v2[4] = 2
	reserved := bytes.Clone(good)
	reserved[7] = 1
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff
	flags := bytes.Clone(good)
	flags[5] = 0x80
	tests := []struct {
		name  string
		msg   []byte
		id    p2ptvd.ChannelID
		owner ed25519.PublicKey
		want  error
	}{
		{"wrong key", forged, tc.id, tc.m.Owner, ErrBadSignature},
		{"verified with another key", good, tc.id, other.m.Owner, ErrBadSignature},
		{"wrong channel", foreign, tc.id, tc.m.Owner, ErrWrongChannel},
		{"no channel", good, p2ptvd.ChannelID{}, tc.m.Owner, ErrWrongChannel},
		{"truncated header", good[:20], tc.id, tc.m.Owner, ErrMalformed},
		{"truncated payload", good[:len(good)-1], tc.id, tc.m.Owner, ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), tc.id, tc.m.Owner, ErrMalformed},
		{"empty", nil, tc.id, tc.m.Owner, ErrMalformed},
		{"garbage", []byte("this is not a chunk, it is a sentence of garbage bytes........"), tc.id, tc.m.Owner, ErrMalformed},
		{"oversized payload", huge, tc.id, tc.m.Owner, ErrTooLarge},
		{"oversized message", make([]byte, MaxMessageSize(DefaultMaxPayload)+1), tc.id, tc.m.Owner, ErrTooLarge},
		{"version 2", v2, tc.id, tc.m.Owner, ErrVersion},
		{"reserved bits", reserved, tc.id, tc.m.Owner, ErrMalformed},
		{"unknown flag", flags, tc.id, tc.m.Owner, ErrMalformed},
		{"corrupt payload", corrupt, tc.id, tc.m.Owner, ErrBadPayload},
		{"short owner key", good, tc.id, tc.m.Owner[:31], ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.msg, tt.id, tt.owner)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tc := newTestChannel(t, "encode")
	ts := time.Unix(1700000000, 0)
	tests := []struct {
		name   string
		mutate func(*p2ptvd.Chunk)
		key    ed25519.PrivateKey
		want   error
	}{
		{"oversized", func(c *p2ptvd.Chunk) { c.Payload = make([]byte, DefaultMaxPayload+1) }, tc.key, ErrTooLarge},
		{"no channel", func(c *p2ptvd.Chunk) { c.Channel = p2ptvd.ChannelID{} }, tc.key, ErrMalformed},
		{"zero time", func(c *p2ptvd.Chunk) { c.Timestamp = time.Time{} }, tc.key, ErrMalformed},
		{"negative duration", func(c *p2ptvd.Chunk) { c.Duration = -1 }, tc.key, ErrMalformed},
		{"huge duration", func(c *p2ptvd.Chunk) { c.Duration = 2 * time.Hour }, tc.key, ErrMalformed},
		{"unknown flag", func(c *p2ptvd.Chunk) { c.Flags |= 0x40 }, tc.key, ErrMalformed},
		{"short key", func(*p2ptvd.Chunk) {}, tc.key[:32], ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tc.chunk(1, 100, ts)
			tt.mutate(&c)
			if _, err := Encode(c, tt.key); !errors.Is(err, tt.want) {
				t.Errorf("Encode = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	tc := newTestChannel(t, "id")
	other := newTestChannel(t, "id other")
	ts := time.Unix(1700000000, 0)
	topic := TopicName(tc.id)
	msg, _ := Encode(tc.chunk(7, 500, ts), tc.key)
	sameAgain, _ := Encode(tc.chunk(7, 500, ts), tc.key)
	nextSeq, _ := Encode(tc.chunk(8, 500, ts), tc.key)
	forged, _ := Encode(tc.chunk(7, 500, ts), other.key)
	corrupt := bytes.Clone(msg)
	corrupt[len(corrupt)-1] ^= 1

	id := messageID(topic, msg)
	if want := string(tc.id.Bytes()) + "\x00\x00\x00\x00\x00\x00\x00\x07"; id[:len(want)] != want {
		t.Errorf("ID %x does not start with channel and seq %x", id, want)
	}
	if got := messageID(topic, sameAgain); got != id {
		t.Error("the same chunk encoded twice has two IDs")
	}
	for name, other := range map[string]string{
		"next seq":        messageID(topic, nextSeq),
		"forged":          messageID(topic, forged),
		"corrupt payload": messageID(topic, corrupt),
		"other topic":     messageID(TopicName(other.id), msg),
	} {
		if other == id {
			t.Errorf("%s has the genuine chunk's ID", name)
		}
	}
	g1, g2 := messageID(topic, []byte("garbage")), messageID(topic, []byte("garbagf"))
	if g1 == g2 || g1[0] != 0 {
		t.Errorf("garbage IDs %x, %x: want distinct, starting with 0", g1, g2)
	}
}

func FuzzOpen(f *testing.F) {
	tc := newTestChannel(f, "fuzz")
	ts := time.Unix(1700000000, 0)
	for _, n := range []int{0, 188, PartSize + 1} {
		msg, err := Encode(tc.chunk(uint64(n), n, ts), tc.key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add([]byte("P2TV\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := Open(msg, tc.id, tc.m.Owner)
		_ = messageID("t", msg)
		if err != nil {
			if reasonOf(err) == errUnknownReason.Error() {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// Whatever opens must re-encode to the same bytes: the encoding
		// is canonical, so there is one message per chunk.
		again, err := Encode(c, tc.key)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, msg) {
			t.Fatalf("re-encoded chunk differs")
		}
	})
}

func BenchmarkEncode64K(b *testing.B) {
	tc := newTestChannel(b, "bench")
	c := tc.chunk(1, 64<<10, time.Unix(1700000000, 0))
	b.SetBytes(int64(len(c.Payload)))
	for b.Loop() {
		if _, err := Encode(c, tc.key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen64K(b *testing.B) {
	tc := newTestChannel(b, "bench")
	msg, err := Encode(tc.chunk(1, 64<<10, time.Unix(1700000000, 0)), tc.key)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	for b.Loop() {
		if _, err := Open(msg, tc.id, tc.m.Owner); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageID64K(b *testing.B) {
	tc := newTestChannel(b, "bench")
	msg, err := Encode(tc.chunk(1, 64<<10, time.Unix(1700000000, 0)), tc.key)
	if err != nil {
		b.Fatal(err)
	}
	topic := TopicName(tc.id)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		_ = messageID(topic, msg)
	}
}
