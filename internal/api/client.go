package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/internal/home"
)

// ErrNoDaemon says no daemon runs on a home: no api file, or nobody
// answers at its address (a daemon that crashed leaves the file behind).
var ErrNoDaemon = errors.New("no daemon running")

// Client calls a daemon's API.
type Client struct {
	BaseURL string
	Key     string
	HTTP    *http.Client // nil is a client with a 10 s timeout per call (joins excepted)
}

// Find returns a client for the daemon running on the home directory dir,
// after checking that it answers; ErrNoDaemon when none does.
func Find(ctx context.Context, dir string) (*Client, error) {
	base, err := home.ReadAPI(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoDaemon)
	}
	if err != nil {
		return nil, err
	}
	key, err := home.ReadAPIKey(dir)
	if err != nil {
		return nil, fmt.Errorf("api key: %w", err)
	}
	c := &Client{BaseURL: base, Key: key}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%s: %w (stale api file: %s does not answer)", dir, ErrNoDaemon, base)
		}
		return nil, fmt.Errorf("daemon at %s: %w", base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("daemon at %s: health check: %s", base, resp.Status)
	}
	return c, nil
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{}
}

// do sends a request and decodes a JSON answer into out (if not nil). A
// non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, method, path string, body, out any, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(resp.Status + ": " + string(b))
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: bad answer: %w", method, path, err)
	}
	return nil
}

const callTimeout = 10 * time.Second

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &s, callTimeout)
}

// Channels lists the node's channels.
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	var cs []Channel
	return cs, c.do(ctx, http.MethodGet, "/api/v1/channels", nil, &cs, callTimeout)
}

// Peers lists the connected peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var ps []Peer
	return ps, c.do(ctx, http.MethodGet, "/api/v1/peers", nil, &ps, callTimeout)
}

// Join asks the daemon to join a channel, waiting up to timeout for it to
// be found.
func (c *Client) Join(ctx context.Context, id p2ptvd.ChannelID, timeout time.Duration) (Channel, error) {
	var ch Channel
	req := JoinRequest{Channel: id.Path(), Timeout: timeout.String()}
	return ch, c.do(ctx, http.MethodPost, "/api/v1/channels", req, &ch, timeout+callTimeout)
}

// Leave asks the daemon to leave a channel.
func (c *Client) Leave(ctx context.Context, id p2ptvd.ChannelID) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/channels/"+url.PathEscape(id.String()), nil, nil, callTimeout)
}
