// Package home owns a node's home directory: where it is (flag, then
// P2PTVD_HOME, then the XDG config directory), the lock that keeps two
// processes off one home, the API key, and the api file that tells the CLI
// where a running daemon listens.
//
// # Files
//
//	identity.key   the node's Ed25519 key (owned by package node)
//	config.toml    the user's overrides (owned by package config)
//	lock           flock(2)-locked while a node runs; holds its PID
//	api            while a daemon runs: its API base URL, one line
//	               (e.g. "http://127.0.0.1:5580"), removed on exit
//	api.key        the API key (0600), created on first run
//	channels.json  the channels a daemon watches, to rejoin after a restart
//	               (owned by package node)
//
// Everything is written atomically (temporary file, fsync, rename). The
// package starts no goroutines.
package home
