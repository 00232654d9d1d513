package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/buffer"
	"github.com/p2ptv/p2ptvd/media"
)

// ContentType is the media type of the progressive MPEG-TS output.
const ContentType = "video/mp2t"

// WriteTo copies the channel's stream to w from the latest random-access
// chunk in the buffer onwards, until the stream ends (nil), ctx ends or a
// write fails. flush, if not nil, is called after each chunk so a player
// gets it at once.
func (c *Channel) WriteTo(ctx context.Context, w io.Writer, flush func() error) error {
	r := c.playout.NewReader()
	defer r.Close()
	for {
		e, err := r.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, buffer.ErrClosed):
			return ErrNotJoined
		case err != nil:
			return err
		}
		payload := e.Chunk.Payload
		if e.Discontinuity {
			// Tell the player's demuxer that the gap is known, so it
			// resyncs instead of reporting corrupt packets.
			payload = media.MarkDiscontinuity(payload)
		}
		if _, err := w.Write(payload); err != nil {
			return err
		}
		if flush != nil {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// StreamPath is the HTTP path of a channel's MPEG-TS stream.
func StreamPath(id p2ptvd.ChannelID) string { return id.Path() + ".ts" }

// Handler serves the node's channels over HTTP:
//
//	GET /channel/<cid>.ts   progressive MPEG-TS (video/mp2t) for VLC, mpv, ffplay
//	GET /                   JSON list of the channels with their stream paths
//
// Only channels the node already broadcasts or watches are served.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /channel/{file}", n.serveStream)
	mux.HandleFunc("GET /{$}", n.serveIndex)
	return mux
}

func (n *Node) serveStream(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".ts")
	if !ok {
		http.Error(w, "want /channel/<cid>.ts", http.StatusNotFound)
		return
	}
	id, err := p2ptvd.ParseChannelID(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, ok := n.Channel(id)
	if !ok {
		http.Error(w, fmt.Sprintf("%s: not joined on this node", id.Path()), http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	err = c.WriteTo(r.Context(), w, rc.Flush)
	if err != nil && r.Context().Err() == nil {
		n.log.Debug("stream ended", "channel", id.String(), "client", r.RemoteAddr, "err", err)
	}
}

type indexEntry struct {
	Channel string    `json:"channel"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Stream  string    `json:"stream"`
	Created time.Time `json:"created"`
}

func (n *Node) serveIndex(w http.ResponseWriter, r *http.Request) {
	var list []indexEntry
	for _, c := range n.Channels() {
		list = append(list, indexEntry{
			Channel: c.id.Path(), Name: c.manifest.Name, Role: c.role,
			Stream: StreamPath(c.id), Created: c.manifest.Created,
		})
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"peer": n.ID().String(), "channels": list})
}
