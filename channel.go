package p2ptvd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

// PathPrefix is how a channel is written for people: /channel/<cid>.
const PathPrefix = "/channel/"

// ErrBadChannelID is returned for a string or byte slice that is not a
// channel ID. Errors wrap it with the reason.
var ErrBadChannelID = errors.New("bad channel id")

// ChannelID names a channel: the CIDv1 (raw codec, sha2-256) of its
// manifest's bytes. The zero value is "no channel". ChannelID is comparable
// and can be a map key.
type ChannelID struct{ c cid.Cid }

// ChannelIDOf returns the ID of the manifest whose encoded bytes are b.
func ChannelIDOf(manifest []byte) ChannelID {
	mh, err := multihash.Sum(manifest, multihash.SHA2_256, -1)
	if err != nil {
		// Sum fails only for an unknown hash function; SHA2_256 is built in.
		panic(fmt.Sprintf("p2ptvd: sha2-256 multihash: %v", err))
	}
	return ChannelID{cid.NewCidV1(cid.Raw, mh)}
}

// ParseChannelID reads an ID written as /channel/<cid> or as a bare <cid>.
func ParseChannelID(s string) (ChannelID, error) {
	raw := strings.TrimPrefix(strings.TrimSpace(s), PathPrefix)
	if raw == "" {
		return ChannelID{}, fmt.Errorf("%w: empty", ErrBadChannelID)
	}
	if strings.Contains(raw, "/") {
		return ChannelID{}, fmt.Errorf("%w: %q: want /channel/<cid>", ErrBadChannelID, s)
	}
	c, err := cid.Decode(raw)
	if err != nil {
		return ChannelID{}, fmt.Errorf("%w: %q: %v", ErrBadChannelID, s, err)
	}
	return fromCid(c)
}

// ChannelIDFromBytes reads the binary form written by Bytes.
func ChannelIDFromBytes(b []byte) (ChannelID, error) {
	n, c, err := cid.CidFromBytes(b)
	if err != nil {
		return ChannelID{}, fmt.Errorf("%w: %v", ErrBadChannelID, err)
	}
	if n != len(b) {
		return ChannelID{}, fmt.Errorf("%w: %d trailing bytes", ErrBadChannelID, len(b)-n)
	}
	return fromCid(c)
}

// ChannelIDFromCid accepts a CID that is a channel ID.
func ChannelIDFromCid(c cid.Cid) (ChannelID, error) { return fromCid(c) }

func fromCid(c cid.Cid) (ChannelID, error) {
	p := c.Prefix()
	if p.Version != 1 || p.Codec != cid.Raw || p.MhType != multihash.SHA2_256 || p.MhLength != 32 {
		return ChannelID{}, fmt.Errorf("%w: %s is not a CIDv1 raw sha2-256", ErrBadChannelID, c)
	}
	return ChannelID{c}, nil
}

// Defined reports whether id names a channel (is not the zero value).
func (id ChannelID) Defined() bool { return id.c.Defined() }

// Cid returns the ID as a CID, the key of the channel's DHT provider records.
func (id ChannelID) Cid() cid.Cid { return id.c }

// Bytes returns the binary CID (36 bytes).
func (id ChannelID) Bytes() []byte { return id.c.Bytes() }

// String returns the CID in base32, e.g. bafkrei....
func (id ChannelID) String() string {
	if !id.c.Defined() {
		return ""
	}
	s, err := id.c.StringOfBase(multibase.Base32)
	if err != nil {
		return id.c.String()
	}
	return s
}

// Path returns the ID as people write it: /channel/bafkrei....
func (id ChannelID) Path() string { return PathPrefix + id.String() }
