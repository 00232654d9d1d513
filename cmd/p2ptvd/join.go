package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/internal/api"
	"github.com/p2ptv/p2ptvd/node"
)

// JoinCmd joins a channel and serves it to a local player.
type JoinCmd struct {
	NetFlags
	HTTP       string        `help:"Local HTTP address to serve the stream on (when no daemon runs)." default:"127.0.0.1:8080" placeholder:"HOST:PORT"`
	Output     string        `short:"o" help:"Write the stream to a file, or - for stdout (e.g. | mpv -), instead of printing a URL." placeholder:"FILE"`
	Timeout    time.Duration `help:"Give up if the channel cannot be found and joined within this time." default:"60s"`
	Foreground bool          `help:"Run a node in this process even when a daemon runs."`
	JSON       bool          `help:"Print the joined channel as JSON (through a daemon)."`
	Channel    string        `arg:"" help:"The channel to join: /channel/<cid>."`
}

func (JoinCmd) Help() string {
	return `When a daemon runs on this home (see 'p2ptvd daemon'), join asks it to
join the channel, prints the daemon's playback URL and returns; the daemon
keeps the channel (and rejoins it after a restart) until 'p2ptvd leave'.
With no daemon, join runs a node in this process and serves the stream
until you stop it.

Examples:
  p2ptvd join /channel/bafkrei...                 # prints http://127.0.0.1:5580/channel/bafkrei....ts
  mpv "$(p2ptvd join /channel/bafkrei...)"
  p2ptvd join -o - /channel/bafkrei... | mpv -
  p2ptvd join --foreground --bootstrap /ip4/.../p2p/12D3KooW... --http 127.0.0.1:8081 /channel/bafkrei...`
}

func (j *JoinCmd) Run(ctx context.Context, env *Env) error {
	id, err := p2ptvd.ParseChannelID(j.Channel)
	if err != nil {
		return usageError{err}
	}
	dir, err := env.home()
	if err != nil {
		return err
	}
	if !j.Foreground {
		c, err := api.Find(ctx, dir)
		switch {
		case err == nil:
			return j.viaDaemon(ctx, env, c, id)
		case !errors.Is(err, api.ErrNoDaemon):
			return err
		}
		env.Log.Debug("no daemon runs; joining in the foreground", "reason", err)
	}
	cfg, unlock, err := j.foreground(env)
	if err != nil {
		return err
	}
	defer unlock()
	var srv *httpServer
	if j.Output == "" {
		if srv, err = listenHTTP(j.HTTP); err != nil {
			return err
		}
		defer srv.close()
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer n.Close()

	joinCtx, cancel := context.WithTimeout(ctx, j.Timeout)
	defer cancel()
	if err := n.Bootstrap(joinCtx); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	c, err := n.Join(joinCtx, id)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("join %s: not found within %s", id.Path(), j.Timeout)
		}
		return err
	}
	stopStatus := statusLoop(ctx, env, c)
	defer stopStatus()

	if j.Output != "" {
		w, closeOut, err := j.output()
		if err != nil {
			return err
		}
		defer closeOut()
		err = c.WriteTo(ctx, w, nil)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	fmt.Fprintln(env.Stdout, srv.url(id))
	go srv.serve(n.Handler())
	runUntil(ctx, c.Done())
	return c.Err()
}

func (j *JoinCmd) output() (io.Writer, func(), error) {
	if j.Output == "-" {
		return os.Stdout, func() {}, nil
	}
	f, err := os.Create(j.Output)
	if err != nil {
		return nil, nil, fmt.Errorf("output: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// viaDaemon joins through a running daemon and prints its stream URL, or
// copies the stream to the output.
func (j *JoinCmd) viaDaemon(ctx context.Context, env *Env, c *api.Client, id p2ptvd.ChannelID) error {
	ch, err := c.Join(ctx, id, j.Timeout)
	if err != nil {
		return apiError("join "+id.Path(), err)
	}
	if j.Output == "" {
		if j.JSON {
			return printJSON(env, ch)
		}
		fmt.Fprintln(env.Stdout, ch.Stream)
		return nil
	}
	if ch.Stream == "" {
		return errors.New("the daemon serves no stream URL")
	}
	w, closeOut, err := j.output()
	if err != nil {
		return err
	}
	defer closeOut()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ch.Stream, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("stream from the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stream from the daemon: %s", resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
