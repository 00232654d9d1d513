package p2ptvd

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// ManifestVersion is the only manifest version this code writes and reads.
const ManifestVersion = 1

// MaxManifestSize bounds a manifest's encoded bytes; anything larger is
// refused before it is parsed.
const MaxManifestSize = 4096

// MaxNameLen bounds a channel name in bytes.
const MaxNameLen = 200

// ErrBadManifest is returned for a manifest that does not decode, does not
// match its channel ID, or carries invalid fields.
var ErrBadManifest = errors.New("bad manifest")

// Manifest describes a channel. Its encoded bytes determine the channel ID.
type Manifest struct {
	Owner   ed25519.PublicKey // the only key that may sign the channel's chunks
	Name    string
	Created time.Time
	Hints   StreamHints
}

// StreamHints tell a viewer what to expect before the first chunk arrives.
// They are advisory: nothing is rejected for not matching them.
type StreamHints struct {
	Codec         string        // e.g. "h264"
	Bitrate       int           // nominal bits per second
	ChunkDuration time.Duration // nominal
}

type manifestJSON struct {
	V       int    `json:"v"`
	Owner   []byte `json:"owner"`
	Name    string `json:"name"`
	Created string `json:"created"`
	Codec   string `json:"codec,omitempty"`
	Bitrate int    `json:"bitrate,omitempty"`
	ChunkMS int64  `json:"chunk_ms,omitempty"`
}

// Encode returns the manifest's bytes. It is deterministic: the same
// manifest always encodes to the same bytes and so to the same ID.
func (m Manifest) Encode() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(manifestJSON{
		V:       ManifestVersion,
		Owner:   m.Owner,
		Name:    m.Name,
		Created: m.Created.UTC().Format(time.RFC3339Nano),
		Codec:   m.Hints.Codec,
		Bitrate: m.Hints.Bitrate,
		ChunkMS: m.Hints.ChunkDuration.Milliseconds(),
	})
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadManifest, len(b), MaxManifestSize)
	}
	return b, nil
}

// ID returns the channel ID of the manifest.
func (m Manifest) ID() (ChannelID, error) {
	b, err := m.Encode()
	if err != nil {
		return ChannelID{}, err
	}
	return ChannelIDOf(b), nil
}

func (m Manifest) check() error {
	switch {
	case len(m.Owner) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: owner key is %d bytes, want %d", ErrBadManifest, len(m.Owner), ed25519.PublicKeySize)
	case len(m.Name) > MaxNameLen:
		return fmt.Errorf("%w: name is %d bytes, limit %d", ErrBadManifest, len(m.Name), MaxNameLen)
	case !utf8.ValidString(m.Name):
		return fmt.Errorf("%w: name is not UTF-8", ErrBadManifest)
	case m.Created.IsZero():
		return fmt.Errorf("%w: no creation time", ErrBadManifest)
	case m.Hints.Bitrate < 0 || m.Hints.ChunkDuration < 0:
		return fmt.Errorf("%w: negative stream hint", ErrBadManifest)
	}
	return nil
}

// DecodeManifest checks that b hashes to id and decodes it. It never
// trusts b beyond what the hash proves.
func DecodeManifest(id ChannelID, b []byte) (Manifest, error) {
	if len(b) > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadManifest, len(b), MaxManifestSize)
	}
	if !id.Defined() {
		return Manifest{}, fmt.Errorf("%w: no channel id", ErrBadManifest)
	}
	if got := ChannelIDOf(b); got != id {
		return Manifest{}, fmt.Errorf("%w: bytes hash to %s, not %s", ErrBadManifest, got, id)
	}
	var j manifestJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&j); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if j.V != ManifestVersion {
		return Manifest{}, fmt.Errorf("%w: version %d, want %d", ErrBadManifest, j.V, ManifestVersion)
	}
	created, err := time.Parse(time.RFC3339Nano, j.Created)
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: created: %v", ErrBadManifest, err)
	}
	m := Manifest{
		Owner:   ed25519.PublicKey(j.Owner),
		Name:    j.Name,
		Created: created,
		Hints:   StreamHints{Codec: j.Codec, Bitrate: j.Bitrate, ChunkDuration: time.Duration(j.ChunkMS) * time.Millisecond},
	}
	if err := m.check(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}
