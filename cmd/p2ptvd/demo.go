package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/media"
	"github.com/p2ptv/p2ptvd/node"
)

// DemoCmd runs a bootstrap node, a broadcaster and a viewer on loopback in
// one process, so the whole path can be watched with no setup.
type DemoCmd struct {
	HTTP string `help:"Local HTTP address for the viewer's stream (if it is taken, a free port is used)." default:"127.0.0.1:8080" placeholder:"HOST:PORT"`
}

func (d *DemoCmd) Run(ctx context.Context, env *Env) error {
	srv, err := listenHTTP(d.HTTP)
	if errors.Is(err, syscall.EADDRINUSE) {
		env.Log.Warn("http address in use; using a free port", "addr", d.HTTP)
		srv, err = listenHTTP("127.0.0.1:0")
	}
	if err != nil {
		return err
	}
	defer srv.close()

	dir, err := os.MkdirTemp("", "p2ptvd-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	loopback := []string{"/ip4/127.0.0.1/tcp/0"}
	start := func(name string, mode dht.Mode, boot []string) (*node.Node, error) {
		return node.New(node.Config{
			Home: dir + "/" + name, Listen: loopback, Bootstrap: boot, DHTMode: mode,
			Logger: env.Log.With("node", name),
		})
	}

	bootNode, err := start("bootstrap", dht.ModeServer, nil)
	if err != nil {
		return err
	}
	defer bootNode.Close()
	var boot []string
	for _, a := range bootNode.Addrs() {
		boot = append(boot, a.String())
	}

	caster, err := start("broadcaster", dht.ModeAuto, boot)
	if err != nil {
		return err
	}
	defer caster.Close()
	if err := caster.Bootstrap(ctx); err != nil {
		return err
	}
	ch, err := caster.Broadcast(ctx, bytes.NewReader(media.DemoClip()),
		node.BroadcastOptions{Name: "p2ptvd demo", Pace: true, Loop: true})
	if err != nil {
		return err
	}
	env.Log.Info("broadcasting the demo clip", "channel", ch.ID().Path())

	viewer, err := start("viewer", dht.ModeAuto, boot)
	if err != nil {
		return err
	}
	defer viewer.Close()
	if err := viewer.Bootstrap(ctx); err != nil {
		return err
	}
	vc, err := viewer.Join(ctx, ch.ID())
	if err != nil {
		return err
	}
	url := srv.url(vc.ID())
	fmt.Fprintln(env.Stdout, url)
	fmt.Fprintf(env.Stderr, "\nThe demo channel %s is live; the viewer found it through the DHT.\nPlay it:  mpv %s\n     or:  vlc %s\n     or:  ffplay %s\nCtrl-C stops the demo.\n\n", ch.ID().Path(), url, url, url)
	go srv.serve(viewer.Handler())
	stop := statusLoop(ctx, env, vc)
	defer stop()
	runUntil(ctx, vc.Done())
	return vc.Err()
}
