package p2ptvd

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func testManifest(t *testing.T) Manifest {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Manifest{Owner: pub, Name: "test", Created: time.Unix(1700000000, 123).UTC(),
		Hints: StreamHints{Codec: "h264", Bitrate: 4e6, ChunkDuration: 250 * time.Millisecond}}
}

func TestManifestRoundTrip(t *testing.T) {
	m := testManifest(t)
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id := ChannelIDOf(b)
	if !strings.HasPrefix(id.Path(), "/channel/bafk") {
		t.Errorf("path %q does not look like /channel/bafk...", id.Path())
	}
	got, err := DecodeManifest(id, b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Errorf("re-encoded manifest differs:\n%s\n%s", b, b2)
	}
	id2, _ := got.ID()
	if id2 != id {
		t.Errorf("ID changed after round trip: %s vs %s", id2, id)
	}
}

func TestDecodeManifestRejects(t *testing.T) {
	m := testManifest(t)
	good, _ := m.Encode()
	id := ChannelIDOf(good)
	tampered := []byte(strings.Replace(string(good), `"test"`, `"evil"`, 1))
	v2 := []byte(strings.Replace(string(good), `"v":1`, `"v":2`, 1))
	shortKey := []byte(`{"v":1,"owner":"AAAA","name":"x","created":"2024-01-01T00:00:00Z"}`)
	tests := []struct {
		name string
		id   ChannelID
		b    []byte
	}{
		{"tampered", id, tampered},
		{"other version", ChannelIDOf(v2), v2},
		{"short key", ChannelIDOf(shortKey), shortKey},
		{"garbage", ChannelIDOf([]byte("not json")), []byte("not json")},
		{"oversized", id, make([]byte, MaxManifestSize+1)},
		{"no id", ChannelID{}, good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeManifest(tt.id, tt.b); !errors.Is(err, ErrBadManifest) {
				t.Errorf("DecodeManifest = %v, want ErrBadManifest", err)
			}
		})
	}
}

func TestEncodeManifestRejects(t *testing.T) {
	good := testManifest(t)
	tests := []struct {
		name   string
		mutate func(*Manifest)
	}{
		{"no owner", func(m *Manifest) { m.Owner = nil }},
		{"long name", func(m *Manifest) { m.Name = strings.Repeat("x", MaxNameLen+1) }},
		{"bad utf8", func(m *Manifest) { m.Name = "\xff" }},
		{"no time", func(m *Manifest) { m.Created = time.Time{} }},
		{"negative bitrate", func(m *Manifest) { m.Hints.Bitrate = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.mutate(&m)
			if _, err := m.Encode(); !errors.Is(err, ErrBadManifest) {
				t.Errorf("Encode = %v, want ErrBadManifest", err)
			}
		})
	}
}

func TestParseChannelID(t *testing.T) {
	b, _ := testManifest(t).Encode()
	id := ChannelIDOf(b)
	for _, s := range []string{id.Path(), id.String(), " " + id.Path() + "\n"} {
		got, err := ParseChannelID(s)
		if err != nil || got != id {
			t.Errorf("ParseChannelID(%q) = %v, %v; want %v", s, got, err, id)
		}
	}
	fromBytes, err := ChannelIDFromBytes(id.Bytes())
	if err != nil || fromBytes != id {
		t.Errorf("ChannelIDFromBytes = %v, %v", fromBytes, err)
	}
	bad := []string{
		"", "/channel/", "/channel/hello", "/channel/" + id.String() + "/x",
		"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",              // CIDv0
		"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", // dag-pb codec
	}
	for _, s := range bad {
		if _, err := ParseChannelID(s); !errors.Is(err, ErrBadChannelID) {
			t.Errorf("ParseChannelID(%q) = %v, want ErrBadChannelID", s, err)
		}
	}
	if _, err := ChannelIDFromBytes(append(id.Bytes(), 0)); !errors.Is(err, ErrBadChannelID) {
		t.Errorf("trailing byte accepted: %v", err)
	}
}

func TestFlags(t *testing.T) {
	f := RandomAccess | EndOfStream
	if !f.Has(RandomAccess) || f.Has(Discontinuity) || f.String() != "rap|eos" {
		t.Errorf("flags %08b: %q", f, f)
	}
}
