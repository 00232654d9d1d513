package gossip

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestMetaRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    meta
	}{
		{"empty", meta{}},
		{"announce", meta{flags: metaHead | metaRAP, free: 7, bm: [bmCount]bitmap{bmHave: {0xff}}, depth: []byte{0, 1, 2, 3, 4, 5, 6, 255}}},
		{"request", meta{flags: metaHead | metaHeads, bm: [bmCount]bitmap{bmWant: {0x05, 0x01}, bmSub: {0x04, 0x00}}}},
		{"answer", meta{flags: metaBusy, bm: [bmCount]bitmap{bmAck: {0x01}, bmDrop: {0x02}, bmUnsub: {0x80}}}},
		{"every bitmap", meta{flags: knownMetaFlags, free: 255, bm: [bmCount]bitmap{{1}, {2}, {3}, {4}, {5}, {6}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.m.encode()
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatalf("decode %x: %v", b, err)
			}
			if got.flags != tt.m.flags || got.free != tt.m.free {
				t.Errorf("flags %08b free %d, want %08b %d", got.flags, got.free, tt.m.flags, tt.m.free)
			}
			for i := range got.bm {
				if (got.bm[i] == nil) != (tt.m.bm[i] == nil) || !bytes.Equal(trim(got.bm[i]), trim(tt.m.bm[i])) && tt.m.bm[i] != nil {
					t.Errorf("bitmap %d = %x, want %x", i, got.bm[i], tt.m.bm[i])
				}
			}
			if tt.m.depth != nil && !bytes.Equal(got.depth[:len(tt.m.depth)], tt.m.depth) {
				t.Errorf("depth %v, want %v", got.depth, tt.m.depth)
			}
			// Whatever decodes re-encodes to the same bytes.
			if again := got.encode(); !bytes.Equal(again, b) {
				t.Errorf("re-encoded %x, want %x", again, b)
			}
		})
	}
}

func TestDataRoundTrip(t *testing.T) {
	head := bytes.Repeat([]byte{7}, 395)
	p0, p1 := bytes.Repeat([]byte{1}, PartSize), []byte("last part, short")
	tests := []struct {
		name string
		d    data
	}{
		{"head only", data{head: head}},
		{"parts", data{parts: []dataPart{{0, p0}, {3, p1}}}},
		{"head and a part", data{head: head, parts: []dataPart{{2, p1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.d.encode()
			if len(b) != tt.d.size() {
				t.Errorf("encoded %d bytes, size says %d", len(b), tt.d.size())
			}
			got, err := decodeData(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.head, tt.d.head) || len(got.parts) != len(tt.d.parts) {
				t.Fatalf("got head %d bytes, %d parts; want %d, %d", len(got.head), len(got.parts), len(tt.d.head), len(tt.d.parts))
			}
			for i, p := range got.parts {
				if p.index != tt.d.parts[i].index || !bytes.Equal(p.data, tt.d.parts[i].data) {
					t.Errorf("part %d = %d/%d bytes, want %d/%d", i, p.index, len(p.data), tt.d.parts[i].index, len(tt.d.parts[i].data))
				}
			}
		})
	}
}

func TestPartialDecodeRejects(t *testing.T) {
	part := func(i, n uint16) []byte {
		return append([]byte{byte(i >> 8), byte(i), byte(n >> 8), byte(n)}, make([]byte, n)...)
	}
	tests := []struct {
		name string
		meta bool
		b    []byte
		want error
	}{
		{"meta: other version", true, []byte{2, 0, 0, 0, 1}, errUnknownVersion},
		{"meta: short", true, []byte{1, 0, 0}, ErrMalformed},
		{"meta: unknown flag", true, []byte{1, 0x80, 0, 0, 1}, ErrMalformed},
		{"meta: unknown bitmap", true, []byte{1, 0, 0, 0x80, 1}, ErrMalformed},
		{"meta: zero length", true, []byte{1, 0, 0, 1, 0}, ErrMalformed},
		{"meta: truncated bitmap", true, []byte{1, 0, 0, 3, 2, 1, 2, 3}, ErrMalformed},
		{"meta: trailing bytes", true, []byte{1, 0, 0, 1, 1, 1, 9}, ErrMalformed},
		{"data: other version", false, []byte{9, 0}, errUnknownVersion},
		{"data: unknown flag", false, []byte{1, 2}, ErrMalformed},
		{"data: head length beyond", false, []byte{1, 1, 0, 0, 0, 9, 1}, ErrMalformed},
		{"data: empty head", false, []byte{1, 1, 0, 0, 0, 0}, ErrMalformed},
		{"data: truncated part", false, append([]byte{1, 0}, part(0, 10)[:8]...), ErrMalformed},
		{"data: empty part", false, append([]byte{1, 0}, part(0, 0)...), ErrMalformed},
		{"data: part too large", false, append([]byte{1, 0}, part(0, PartSize+1)...), ErrMalformed},
		{"data: parts out of order", false, append(append([]byte{1, 0}, part(2, 1)...), part(1, 1)...), ErrMalformed},
		{"data: part repeated", false, append(append([]byte{1, 0}, part(1, 1)...), part(1, 1)...), ErrMalformed},
		{"data: index past the bitmaps", false, append([]byte{1, 0}, part(maxParts, 1)...), ErrMalformed},
	}
	for _, tt := range tests {
		var err error
		if tt.meta {
			_, err = decodeMeta(tt.b)
		} else {
			_, err = decodeData(tt.b)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestHeadBinding: a head verifies on its own, its parts check against it
// one by one, and the group ID binds the head: another head, or the same
// head under another seq, does not match.
func TestHeadBinding(t *testing.T) {
	tc := newTestChannel(t, "binding")
	other := newTestChannel(t, "binding other")
	c := tc.chunk(42, 3*PartSize+100, time.Unix(1700000000, 0))
	rand.Read(c.Payload) // the test payload repeats every part
	msg, err := Encode(c, tc.key)
	if err != nil {
		t.Fatal(err)
	}
	head := msg[:len(msg)-len(c.Payload)]
	h, err := openHead(head, tc.id, tc.m.Owner, DefaultMaxPayload)
	if err != nil {
		t.Fatal(err)
	}
	if h.parts != 4 || h.partLen(3) != 100 || h.partLen(0) != PartSize {
		t.Errorf("parts %d, lengths %d %d", h.parts, h.partLen(0), h.partLen(3))
	}
	for i := range h.parts {
		if !h.checkPart(i, part(c.Payload, i)) {
			t.Errorf("part %d does not check", i)
		}
	}
	bad := slices.Clone(part(c.Payload, 1))
	bad[5] ^= 1
	for _, tt := range []struct {
		name string
		i    int
		data []byte
	}{
		{"flipped bit", 1, bad},
		{"another part's data", 2, part(c.Payload, 1)},
		{"index out of range", 4, part(c.Payload, 3)},
		{"short", 0, part(c.Payload, 0)[:100]},
	} {
		if h.checkPart(tt.i, tt.data) {
			t.Errorf("%s: part %d checks", tt.name, tt.i)
		}
	}

	gid := groupID(42, head)
	if seq, ok := groupSeq(gid); !ok || seq != 42 || len(gid) != groupIDSize {
		t.Errorf("group ID %x: seq %d %v", gid, seq, ok)
	}
	if groupID(43, head) == gid {
		t.Error("the same head under another seq has the same group ID")
	}
	forged := slices.Clone(head)
	copy(forged[len(forged)-ed25519.SignatureSize:], ed25519.Sign(other.key, append([]byte(SignatureDomain), h.signed...)))
	if groupID(42, forged) == gid {
		t.Error("a re-signed head has the same group ID")
	}
	if _, err := openHead(forged, tc.id, tc.m.Owner, DefaultMaxPayload); !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged head: %v, want ErrBadSignature", err)
	}
	if _, err := openHead(head, other.id, other.m.Owner, DefaultMaxPayload); !errors.Is(err, ErrWrongChannel) {
		t.Errorf("head of another channel: %v, want ErrWrongChannel", err)
	}
	if _, err := openHead(msg, tc.id, tc.m.Owner, DefaultMaxPayload); !errors.Is(err, ErrMalformed) {
		t.Errorf("a whole message as a head: %v, want ErrMalformed", err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add((&meta{flags: metaHead, free: 3, bm: [bmCount]bitmap{bmHave: {0xff}}, depth: []byte{1, 2}}).encode())
	f.Add((&meta{bm: [bmCount]bitmap{bmWant: {1, 2}, bmSub: {3, 4}}}).encode())
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil || len(b) == 0 {
			return
		}
		if again := m.encode(); !bytes.Equal(again, b) {
			t.Fatalf("decoded %x re-encodes to %x", b, again)
		}
	})
}

func FuzzDecodeData(f *testing.F) {
	f.Add((&data{head: []byte("head"), parts: []dataPart{{0, []byte("a")}, {5, []byte("bc")}}}).encode())
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeData(b)
		if err != nil || len(b) == 0 {
			return
		}
		if again := d.encode(); !bytes.Equal(again, b) {
			t.Fatalf("decoded %x re-encodes to %x", b, again)
		}
	})
}

// FuzzOpenHead: whatever opens as a head is the head of a chunk that
// encodes to the same bytes, and its group ID binds it.
func FuzzOpenHead(f *testing.F) {
	tc := newTestChannel(f, "fuzz head")
	for _, n := range []int{0, 1, PartSize + 1, 64 << 10} {
		c := tc.chunk(uint64(n), n, time.Unix(1700000000, 0))
		msg, err := Encode(c, tc.key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg[:len(msg)-n])
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		h, err := openHead(head, tc.id, tc.m.Owner, DefaultMaxPayload)
		if err != nil {
			return
		}
		if len(head) != headerSize(h.parts, len(h.cid))+ed25519.SignatureSize {
			t.Fatalf("head of %d bytes opened, header says %d parts", len(head), h.parts)
		}
		if _, err := parseHead(head, DefaultMaxPayload); err != nil {
			t.Fatal(err)
		}
	})
}
