package dht

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/multiformats/go-varint"

	"github.com/p2ptv/p2ptvd"
)

// ManifestProtocol fetches a channel's manifest by its CID from any node that
// has it.
const ManifestProtocol = "/p2ptv/manifest/1.0.0"

// Response status bytes.
const (
	statusOK       byte = 0
	statusNotFound byte = 1
	statusError    byte = 2
)

const (
	// maxCIDLen bounds the request's CID; a channel CID is 36 bytes.
	maxCIDLen = 64
	// maxRequestSize bounds what the server reads from a stream.
	maxRequestSize = varint.MaxLenUvarint63 + maxCIDLen
	// maxReasonLen bounds the text that comes with status 1 and 2.
	maxReasonLen = 256
	// maxResponseSize bounds what the client reads from a stream.
	maxResponseSize = 1 + varint.MaxLenUvarint63 + p2ptvd.MaxManifestSize
	// fetchParallel bounds the peers FetchManifest asks at once.
	fetchParallel = 8
	serviceName   = "p2ptv.manifest"
)

// Errors of the manifest protocol. Fetch errors wrap them.
var (
	// ErrManifestNotFound: the peer does not serve that channel.
	ErrManifestNotFound = errors.New("manifest not found")
	// ErrBadMessage: a request or response does not follow the protocol.
	ErrBadMessage = errors.New("bad manifest protocol message")
)

// byteReader is what the decoders read from: a bufio.Reader on a stream, or a
// bytes.Reader in tests.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// appendRequest encodes a request: uvarint length, then the CID's bytes.
func appendRequest(b []byte, id p2ptvd.ChannelID) []byte {
	c := id.Bytes()
	b = binary.AppendUvarint(b, uint64(len(c)))
	return append(b, c...)
}

// readRequest decodes a request. A well-framed request whose bytes are not a
// channel ID returns an error wrapping p2ptvd.ErrBadChannelID.
func readRequest(r byteReader) (p2ptvd.ChannelID, error) {
	n, err := varint.ReadUvarint(r)
	if err != nil {
		return p2ptvd.ChannelID{}, fmt.Errorf("%w: request length: %v", ErrBadMessage, err)
	}
	if n == 0 || n > maxCIDLen {
		return p2ptvd.ChannelID{}, fmt.Errorf("%w: request length %d, want 1..%d", ErrBadMessage, n, maxCIDLen)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return p2ptvd.ChannelID{}, fmt.Errorf("%w: request cid: %v", ErrBadMessage, err)
	}
	return p2ptvd.ChannelIDFromBytes(buf)
}

// appendResponse encodes a response: status byte, uvarint length, payload
// (the manifest for status 0, a short reason otherwise).
func appendResponse(b []byte, status byte, payload []byte) []byte {
	b = append(b, status)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// readResponse decodes a response, refusing a payload beyond the limit of
// its status before reading it.
func readResponse(r byteReader) (status byte, payload []byte, err error) {
	status, err = r.ReadByte()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: status: %v", ErrBadMessage, err)
	}
	limit := uint64(maxReasonLen)
	switch status {
	case statusOK:
		limit = p2ptvd.MaxManifestSize
	case statusNotFound, statusError:
	default:
		return 0, nil, fmt.Errorf("%w: unknown status %d", ErrBadMessage, status)
	}
	n, err := varint.ReadUvarint(r)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: response length: %v", ErrBadMessage, err)
	}
	if n > limit {
		return 0, nil, fmt.Errorf("%w: response of %d bytes, limit %d", ErrBadMessage, n, limit)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: response body: %v", ErrBadMessage, err)
	}
	return status, payload, nil
}

// AddManifest starts serving a manifest; it is checked by decoding first.
// It returns the manifest's channel ID.
func (d *DHT) AddManifest(raw []byte) (p2ptvd.ChannelID, error) {
	if len(raw) > p2ptvd.MaxManifestSize {
		return p2ptvd.ChannelID{}, fmt.Errorf("add manifest: %w: %d bytes, limit %d", p2ptvd.ErrBadManifest, len(raw), p2ptvd.MaxManifestSize)
	}
	id := p2ptvd.ChannelIDOf(raw)
	if _, err := p2ptvd.DecodeManifest(id, raw); err != nil {
		return p2ptvd.ChannelID{}, fmt.Errorf("add manifest: %w", err)
	}
	d.mu.Lock()
	d.manifests[id] = slices.Clone(raw)
	d.mu.Unlock()
	return id, nil
}

// RemoveManifest stops serving a manifest.
func (d *DHT) RemoveManifest(id p2ptvd.ChannelID) {
	d.mu.Lock()
	delete(d.manifests, id)
	d.mu.Unlock()
}

func (d *DHT) manifest(id p2ptvd.ChannelID) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.manifests[id]
}

// handleManifest serves one request on a stream. A stream that does not
// carry a well-framed request is reset.
func (d *DHT) handleManifest(s network.Stream) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		_ = s.Reset()
		return
	}
	d.streams[s] = struct{}{}
	d.swg.Add(1)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.streams, s)
		d.mu.Unlock()
		d.swg.Done()
	}()

	log := d.log.With("peer", s.Conn().RemotePeer())
	if err := s.Scope().SetService(serviceName); err != nil {
		log.Debug("manifest request refused by resource manager", "err", err)
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(d.t.streamTimeout))
	r := bufio.NewReaderSize(io.LimitReader(s, maxRequestSize), maxRequestSize)
	id, err := readRequest(r)
	var resp []byte
	switch {
	case errors.Is(err, p2ptvd.ErrBadChannelID):
		resp = appendResponse(nil, statusError, []byte("bad channel id"))
	case err != nil:
		log.Debug("bad manifest request", "err", err)
		_ = s.Reset()
		return
	default:
		if raw := d.manifest(id); raw != nil {
			resp = appendResponse(nil, statusOK, raw)
		} else {
			resp = appendResponse(nil, statusNotFound, nil)
		}
	}
	if _, err := s.Write(resp); err != nil {
		log.Debug("write manifest response", "err", err)
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// FetchManifest gets the channel's manifest from the given peers, or from
// the channel's providers when from is empty, asking several at once. The
// first answer whose bytes hash to the channel ID wins; a peer serving
// anything else is logged and skipped. A manifest this node serves is
// returned without asking anyone.
func (d *DHT) FetchManifest(ctx context.Context, id p2ptvd.ChannelID, from []peer.ID) (p2ptvd.Manifest, []byte, error) {
	if !id.Defined() {
		return p2ptvd.Manifest{}, nil, errors.New("fetch manifest: no channel id")
	}
	if raw := d.manifest(id); raw != nil {
		m, err := p2ptvd.DecodeManifest(id, raw)
		if err != nil {
			return p2ptvd.Manifest{}, nil, fmt.Errorf("fetch manifest %s: %w", id, err)
		}
		return m, slices.Clone(raw), nil
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()

	var peers []peer.ID
	for _, p := range from {
		if p != d.h.ID() && !slices.Contains(peers, p) {
			peers = append(peers, p)
		}
	}
	if len(peers) == 0 {
		provs, err := d.FindProviders(ctx, id, DefaultMaxProviders)
		if err != nil {
			return p2ptvd.Manifest{}, nil, fmt.Errorf("fetch manifest %s: %w", id, err)
		}
		for _, ai := range provs {
			d.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
			peers = append(peers, ai.ID)
		}
	}
	if len(peers) == 0 {
		return p2ptvd.Manifest{}, nil, fmt.Errorf("fetch manifest %s: %w (0 found)", id, ErrNoProviders)
	}

	type result struct {
		p   peer.ID
		m   p2ptvd.Manifest
		raw []byte
		err error
	}
	results := make(chan result, len(peers)) // never blocks a sender
	sem := make(chan struct{}, fetchParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs first: stops the losers
	for _, p := range peers {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results <- result{p: p, err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			m, raw, err := d.fetchFrom(ctx, p, id)
			results <- result{p, m, raw, err}
		})
	}
	var errs []error
	for range peers {
		r := <-results
		if r.err == nil {
			return r.m, r.raw, nil
		}
		if errors.Is(r.err, p2ptvd.ErrBadManifest) {
			d.log.Warn("peer served a wrong manifest", "peer", r.p, "channel", id.String(), "err", r.err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", r.p, r.err))
	}
	return p2ptvd.Manifest{}, nil, fmt.Errorf("fetch manifest %s from %d peers: %w", id, len(peers), errors.Join(errs...))
}

// fetchFrom asks one peer for the manifest and verifies the answer.
func (d *DHT) fetchFrom(ctx context.Context, p peer.ID, id p2ptvd.ChannelID) (p2ptvd.Manifest, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.t.streamTimeout)
	defer cancel()
	// A manifest is small enough for a relayed (limited) connection, and a
	// NAT'd viewer may be reachable only that way.
	s, err := d.h.NewStream(network.WithAllowLimitedConn(ctx, "manifest"), p, ManifestProtocol)
	if err != nil {
		return p2ptvd.Manifest{}, nil, fmt.Errorf("open stream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if _, err := s.Write(appendRequest(nil, id)); err != nil {
		_ = s.Reset()
		return p2ptvd.Manifest{}, nil, fmt.Errorf("send request: %w", err)
	}
	_ = s.CloseWrite()
	status, payload, err := readResponse(bufio.NewReader(io.LimitReader(s, maxResponseSize)))
	if err != nil {
		_ = s.Reset()
		return p2ptvd.Manifest{}, nil, err
	}
	_ = s.Close()
	switch status {
	case statusNotFound:
		return p2ptvd.Manifest{}, nil, ErrManifestNotFound
	case statusError:
		return p2ptvd.Manifest{}, nil, fmt.Errorf("peer refused the request: %q", payload)
	}
	m, err := p2ptvd.DecodeManifest(id, payload)
	if err != nil {
		return p2ptvd.Manifest{}, nil, err
	}
	return m, payload, nil
}
