package main

import (
	"context"
	"fmt"

	"github.com/p2ptv/p2ptvd/internal/config"
	"github.com/p2ptv/p2ptvd/node"
)

// BootstrapCmd runs an operator's node: a DHT server others bootstrap
// from, with a relay and AutoNAT service for nodes behind NAT.
type BootstrapCmd struct {
	ServiceFlags
}

func (BootstrapCmd) Help() string {
	return `A bootstrap node is what an operator runs on a machine with a public
address: a stable identity (keep its home), a fixed port, the DHT in server
mode, an AutoNAT service (tells home nodes whether they can be reached) and
a circuit-relay v2 service (lets home nodes behind NAT be reached long
enough to hole-punch; video never flows through it). It declares itself
publicly reachable (nat.force_public) and prints its multiaddrs, one per
line: hand them out as --bootstrap values or put them in config.toml.

Relay limits are in the [relay_service] table of config.toml. The API is off
unless --api or api.listen sets it (the systemd unit sets it).

Examples:
  p2ptvd bootstrap --home /var/lib/p2ptvd-boot --port 4004
  p2ptvd bootstrap --listen /ip4/0.0.0.0/tcp/4004 --listen /ip4/0.0.0.0/udp/4004/quic-v1 --api 127.0.0.1:5581`
}

func (b *BootstrapCmd) Run(ctx context.Context, env *Env) error {
	return runService(ctx, env, b.ServiceFlags, config.RoleBootstrap, func(n *node.Node, api string) {
		for _, a := range n.Addrs() {
			fmt.Fprintln(env.Stdout, a)
		}
	})
}
