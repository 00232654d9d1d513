// Package config holds the settings of a p2ptvd node that runs for a long
// time (the daemon and the bootstrap node) and of the foreground commands.
//
// Defaults live in code (Default); the config file holds only what the user
// changed, and p2ptvd never writes it back. Precedence: command-line flags,
// then P2PTVD_* environment variables, then the file, then the defaults.
// Every setting has one key, used three ways: "nat.port_mapping" in the
// file's [nat] table, P2PTVD_NAT_PORT_MAPPING in the environment, and the
// command's flag where there is one. Unknown keys in the file are an error
// that names the key, so a typo never silently leaves a default in force.
//
// # File format
//
// TOML; Example is the commented file `p2ptvd init` writes. Rates are bits
// per second with a unit ("5Mbit", "500kbit", "2MB/s" in bytes); sizes are
// bytes with a unit ("512MiB"); durations are Go durations ("10s").
//
// The package starts no goroutines and reads no global state: the
// environment is passed in as a function.
package config
