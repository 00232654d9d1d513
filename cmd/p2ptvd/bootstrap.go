package main

import (
	"context"
	"fmt"

	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/node"
)

// BootstrapCmd runs a DHT server for others to bootstrap from.
type BootstrapCmd struct {
	NetFlags
}

func (b *BootstrapCmd) Run(ctx context.Context, env *Env) error {
	home, err := env.home()
	if err != nil {
		return err
	}
	cfg, err := b.config(home, env.Log)
	if err != nil {
		return err
	}
	if b.DHTMode == "auto" {
		cfg.DHTMode = dht.ModeServer // a bootstrap node serves the DHT whatever AutoNAT thinks
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	for _, a := range n.Addrs() {
		fmt.Fprintln(env.Stdout, a)
	}
	go func() {
		if err := n.Bootstrap(ctx); err != nil && ctx.Err() == nil {
			env.Log.Warn("bootstrap", "err", err)
		}
	}()
	env.Log.Info("bootstrap node ready", "peer", n.ID())
	<-ctx.Done()
	return nil
}
