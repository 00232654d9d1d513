package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/node"
)

// JoinCmd joins a channel and serves it to a local player.
type JoinCmd struct {
	NetFlags
	HTTP    string        `help:"Local HTTP address to serve the stream on." default:"127.0.0.1:8080" placeholder:"HOST:PORT"`
	Output  string        `short:"o" help:"Write the stream to a file, or - for stdout (e.g. | mpv -), instead of serving HTTP." placeholder:"FILE"`
	Timeout time.Duration `help:"Give up if the channel cannot be found and joined within this time." default:"60s"`
	Channel string        `arg:"" help:"The channel to join: /channel/<cid>."`
}

func (j *JoinCmd) Run(ctx context.Context, env *Env) error {
	id, err := p2ptvd.ParseChannelID(j.Channel)
	if err != nil {
		return usageError{err}
	}
	home, err := env.home()
	if err != nil {
		return err
	}
	cfg, err := j.config(home, env.Log)
	if err != nil {
		return err
	}
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
		w := os.Stdout
		if j.Output != "-" {
			f, err := os.Create(j.Output)
			if err != nil {
				return fmt.Errorf("output: %w", err)
			}
			defer f.Close()
			w = f
		}
		err := c.WriteTo(ctx, w, nil)
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
