package dht

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/p2ptv/p2ptvd"
)

// rawServer serves ManifestProtocol with a fixed response, whatever is asked.
func rawServer(t *testing.T, resp []byte) host.Host {
	t.Helper()
	h := newHost(t)
	h.SetStreamHandler(ManifestProtocol, func(s network.Stream) {
		defer s.Close()
		_, _ = readRequest(bufio.NewReader(s))
		_, _ = s.Write(resp)
	})
	return h
}

func know(d *DHT, hs ...host.Host) {
	for _, h := range hs {
		d.h.Peerstore().AddAddrs(h.ID(), h.Addrs(), peerstore.TempAddrTTL)
	}
}

func TestFetchManifest(t *testing.T) {
	raw, id := testManifest(t, "honest")
	otherRaw, otherID := testManifest(t, "other")
	honest := newDHT(t, Config{})
	if _, err := honest.AddManifest(raw); err != nil {
		t.Fatal(err)
	}
	// Serves a valid manifest, but not the one asked for.
	liar := rawServer(t, appendResponse(nil, statusOK, otherRaw))
	huge := rawServer(t, append(appendResponse(nil, statusOK, nil)[:1],
		binary.AppendUvarint(nil, p2ptvd.MaxManifestSize+1)...))
	unknownStatus := rawServer(t, appendResponse(nil, 7, nil))
	truncated := rawServer(t, appendResponse(nil, statusOK, raw)[:100])
	logs := &logBuf{}
	client := newDHT(t, Config{Logger: logs.logger()})
	know(client, honest.h, liar, huge, unknownStatus, truncated)

	tests := []struct {
		name    string
		id      p2ptvd.ChannelID
		from    []peer.ID
		wantErr error // nil: want the honest manifest
	}{
		{"honest", id, []peer.ID{honest.h.ID()}, nil},
		{"liar first, honest wins", id, []peer.ID{liar.ID(), honest.h.ID()}, nil},
		{"liar alone", id, []peer.ID{liar.ID()}, p2ptvd.ErrBadManifest},
		{"not found", otherID, []peer.ID{honest.h.ID()}, ErrManifestNotFound},
		{"oversized", id, []peer.ID{huge.ID()}, ErrBadMessage},
		{"unknown status", id, []peer.ID{unknownStatus.ID()}, ErrBadMessage},
		{"truncated", id, []peer.ID{truncated.ID()}, ErrBadMessage},
		{"no protocol", id, []peer.ID{newHost(t).ID()}, nil /* set below */},
	}
	tests[len(tests)-1].wantErr = errAny
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, b, err := client.FetchManifest(ctx, tt.id, tt.from)
			switch {
			case tt.wantErr == nil:
				if err != nil || string(b) != string(raw) || m.Name != "honest" {
					t.Errorf("FetchManifest = %q, %v; want the honest manifest", b, err)
				}
			case tt.wantErr == errAny:
				if err == nil {
					t.Errorf("FetchManifest = %q, want an error", b)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("FetchManifest error = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if logs.count("peer served a wrong manifest") == 0 {
		t.Errorf("the liar was not logged:\n%s", logs)
	}

	// Served locally: no network needed, and RemoveManifest stops serving.
	if _, b, err := honest.FetchManifest(context.Background(), id, nil); err != nil || string(b) != string(raw) {
		t.Errorf("local FetchManifest = %q, %v", b, err)
	}
	honest.RemoveManifest(id)
	if _, _, err := client.FetchManifest(context.Background(), id, []peer.ID{honest.h.ID()}); !errors.Is(err, ErrManifestNotFound) {
		t.Errorf("after RemoveManifest: %v, want ErrManifestNotFound", err)
	}
}

var errAny = errors.New("any error")

func TestAddManifestRejects(t *testing.T) {
	d := newDHT(t, Config{})
	for _, b := range [][]byte{nil, []byte("{}"), make([]byte, p2ptvd.MaxManifestSize+1)} {
		if _, err := d.AddManifest(b); !errors.Is(err, p2ptvd.ErrBadManifest) {
			t.Errorf("AddManifest(%.20q) = %v, want ErrBadManifest", b, err)
		}
	}
}

// TestManifestServerBadRequests: the handler resets a stream that carries
// garbage, answers status 2 to a framed request that is not a channel ID,
// and keeps serving.
func TestManifestServerBadRequests(t *testing.T) {
	raw, id := testManifest(t, "served")
	server := newDHT(t, Config{})
	if _, err := server.AddManifest(raw); err != nil {
		t.Fatal(err)
	}
	client := newHost(t)
	client.Peerstore().AddAddrs(server.h.ID(), server.h.Addrs(), peerstore.TempAddrTTL)

	exchange := func(req []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := client.NewStream(ctx, server.h.ID(), ManifestProtocol)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := s.Write(req); err != nil {
			return nil, err
		}
		_ = s.CloseWrite()
		return io.ReadAll(s)
	}
	tests := []struct {
		name       string
		req        []byte
		wantStatus int // -1: want no response
	}{
		{"varint overflow", bytes.Repeat([]byte{0xff}, 12), -1},
		{"too long", binary.AppendUvarint(nil, maxCIDLen+1), -1},
		{"zero length", []byte{0}, -1},
		{"short body", append(binary.AppendUvarint(nil, 36), 1, 2, 3), -1},
		{"empty", nil, -1},
		{"not a cid", append(binary.AppendUvarint(nil, 4), "junk"...), int(statusError)},
		{"good", appendRequest(nil, id), int(statusOK)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := exchange(tt.req)
			if tt.wantStatus < 0 {
				if len(got) != 0 {
					t.Errorf("got response %q (err %v), want the stream reset", got, err)
				}
				return
			}
			if err != nil || len(got) == 0 {
				t.Fatalf("response %q, %v", got, err)
			}
			status, payload, err := readResponse(bytes.NewReader(got))
			if err != nil || int(status) != tt.wantStatus {
				t.Errorf("status %d (%v), want %d", status, err, tt.wantStatus)
			}
			if tt.wantStatus == int(statusOK) && string(payload) != string(raw) {
				t.Errorf("payload %q", payload)
			}
		})
	}
}

func TestCodecRoundTrip(t *testing.T) {
	_, id := testManifest(t, "codec")
	got, err := readRequest(bytes.NewReader(appendRequest(nil, id)))
	if err != nil || got != id {
		t.Errorf("request round trip = %v, %v; want %v", got, err, id)
	}
	for _, tt := range []struct {
		status  byte
		payload []byte
	}{{statusOK, []byte("manifest")}, {statusNotFound, nil}, {statusError, []byte("why")}} {
		status, payload, err := readResponse(bytes.NewReader(appendResponse(nil, tt.status, tt.payload)))
		if err != nil || status != tt.status || string(payload) != string(tt.payload) {
			t.Errorf("response round trip = %d %q %v; want %d %q", status, payload, err, tt.status, tt.payload)
		}
	}
	// Limits are checked before the body is read.
	if _, _, err := readResponse(bytes.NewReader(appendResponse(nil, statusError, make([]byte, maxReasonLen+1)))); !errors.Is(err, ErrBadMessage) {
		t.Errorf("long reason accepted: %v", err)
	}
}

func FuzzReadRequest(f *testing.F) {
	_, id := testManifest(f, "fuzz")
	f.Add(appendRequest(nil, id))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(append(binary.AppendUvarint(nil, 4), "junk"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		id, err := readRequest(r)
		if err != nil {
			return
		}
		used := b[:len(b)-r.Len()]
		if again := appendRequest(nil, id); !bytes.Equal(again, used) {
			t.Errorf("decoded %x as %v, which encodes as %x", used, id, again)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	raw, _ := testManifest(f, "fuzz")
	f.Add(appendResponse(nil, statusOK, raw))
	f.Add(appendResponse(nil, statusNotFound, nil))
	f.Add(appendResponse(nil, statusError, []byte("bad channel id")))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{9})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		status, payload, err := readResponse(r)
		if err != nil {
			return
		}
		if len(payload) > p2ptvd.MaxManifestSize {
			t.Fatalf("payload of %d bytes accepted", len(payload))
		}
		used := b[:len(b)-r.Len()]
		if again := appendResponse(nil, status, payload); !bytes.Equal(again, used) {
			t.Errorf("decoded %x, which encodes as %x", used, again)
		}
	})
}
