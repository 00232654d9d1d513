package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/p2ptv/p2ptvd/node"
)

// BroadcastCmd broadcasts a live MPEG-TS stream.
type BroadcastCmd struct {
	NetFlags
	Name  string `help:"Channel name shown to viewers." default:"p2ptvd channel"`
	Pace  string `help:"Release the input in real time by its clock: auto (files yes, stdin no), yes, no." enum:"auto,yes,no" default:"auto"`
	Loop  bool   `help:"Restart a file input at its end, keeping timestamps continuous."`
	HTTP  string `help:"Also serve the channel on this local HTTP address, e.g. 127.0.0.1:8081." placeholder:"HOST:PORT"`
	Input string `arg:"" help:"MPEG-TS input: a file, or - for stdin (e.g. ffmpeg ... -f mpegts pipe:1 | p2ptvd broadcast -)."`
}

func (b *BroadcastCmd) Run(ctx context.Context, env *Env) error {
	cfg, unlock, err := b.foreground(env)
	if err != nil {
		return err
	}
	defer unlock()
	var in io.Reader = os.Stdin
	pace := b.Pace == "yes"
	if b.Input != "-" {
		f, err := os.Open(b.Input)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		defer f.Close()
		in = f
		pace = b.Pace != "no"
	} else if b.Loop {
		return usageError{errors.New("--loop needs a file input, not stdin")}
	}
	srv, err := listenHTTP(b.HTTP)
	if err != nil {
		return err
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	go bootstrapInBackground(ctx, n, env)

	c, err := n.Broadcast(ctx, in, node.BroadcastOptions{Name: b.Name, Pace: pace, Loop: b.Loop})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, c.ID().Path())
	if srv != nil {
		go srv.serve(n.Handler())
		defer srv.close()
		env.Log.Info("serving locally", "url", srv.url(c.ID()))
	}
	stopStatus := statusLoop(ctx, env, c)
	defer stopStatus()
	runUntil(ctx, c.Done())
	if ctx.Err() == nil {
		// Input ended: give the mesh a moment to carry the last chunks and
		// the end-of-stream marker before the node goes away.
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	return c.Err()
}

// bootstrapInBackground joins the DHT, logging while bootstrap peers are
// unreachable; providing and lookups wait for it by themselves.
func bootstrapInBackground(ctx context.Context, n *node.Node, env *Env) {
	if err := n.Bootstrap(ctx); err != nil && ctx.Err() == nil {
		env.Log.Warn("bootstrap failed", "err", err)
	}
}
