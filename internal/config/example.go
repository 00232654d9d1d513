package config

// Example is the commented file `p2ptvd init` writes. Every setting is
// commented out at its default, so the file starts with no overrides:
// uncomment a line to change it.
const Example = `# p2ptvd configuration. Defaults live in the program; this file holds only
# what you change. Uncomment a line to override it. Every key can also be set
# in the environment (P2PTVD_ + the key in capitals, [table] keys prefixed by
# the table name: P2PTVD_MAX_UPLOAD, P2PTVD_NAT_PORT_MAPPING) and most by a
# flag (see p2ptvd daemon --help). Flags beat the environment, which beats
# this file. Unknown keys are an error.

# TCP and QUIC port on every interface. Forward it on your router (or let
# UPnP/NAT-PMP do it, below) so other viewers can reach you.
# port = 4004

# Explicit listen multiaddrs; they replace port.
# listen = ["/ip4/0.0.0.0/tcp/4004", "/ip4/0.0.0.0/udp/4004/quic-v1"]

# Bootstrap nodes (multiaddrs ending in /p2p/<peer id>). Unset: the
# network's default list. [] turns bootstrapping off.
# bootstrap = ["/dns4/boot.example.org/tcp/4004/p2p/12D3KooW..."]

# "p2ptv": p2ptvd's own DHT, served by operators' bootstrap nodes.
# "amino": the public IPFS DHT and its bootstrap nodes (no servers of our own).
# network = "p2ptv"

# DHT role: auto (server once publicly reachable), server or client.
# dht_mode = "auto"

# Upload cap for stream data you relay to others, e.g. "5Mbit", "800kbit".
# "0" is no cap.
# max_upload = "0"

# Watch without relaying to other viewers.
# consume_only = false

# How long a graceful shutdown may take before it is cut short.
# shutdown_timeout = "10s"

[api]
# Local HTTP API, /metrics and the stream URLs. Loopback only; "" turns it off.
# listen = "127.0.0.1:5580"

[nat]
# Ask the router to forward the port (UPnP IGD / NAT-PMP).
# port_mapping = true
# Upgrade relayed connections to direct ones by hole punching (DCUtR).
# hole_punching = true
# While unreachable, keep a reservation on a circuit relay so others can
# reach you (video never flows over relays; they only set up hole punches).
# relay_client = true
# Relays to use; unset: the bootstrap nodes.
# relays = []
# Answer other nodes' reachability probes (AutoNAT); bootstrap nodes do.
# autonat_service = false
# Skip AutoNAT and declare this node publicly reachable (operators' nodes on
# a public address; bootstrap nodes do by default).
# force_public = false

[resources]
# libp2p resource manager and connection manager limits.
# max_memory = "512MiB"
# max_fds = 512
# conns_low = 64
# conns_high = 192
# While broadcasting, refuse inbound connections past this many, before their
# handshake: each costs the broadcaster upload, and viewers relay to the rest.
# 0: no bound (under churn a bound cost viewers more than it saved).
# source_peers = 0

[relay_service]
# A circuit-relay v2 service for others (bootstrap nodes turn it on).
# enabled = false
# max_reservations = 128
# max_circuits = 16
# duration = "2m0s"
# data = "128KiB"
`
