package main

import (
	"fmt"

	"github.com/alecthomas/kong"
)

// helpWithFooter adds what the top-level help should teach beyond the
// commands: files, environment and exit codes.
func helpWithFooter(options kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	if ctx.Selected() != nil {
		return nil
	}
	_, err := fmt.Fprint(ctx.Stdout, `
Start here:
  p2ptvd demo                              a channel on this machine, in one process
  p2ptvd daemon                            the node for this machine (see contrib/systemd)
  p2ptvd join /channel/<cid>               prints a URL for mpv, VLC or ffplay
  p2ptvd status; p2ptvd channels           what the daemon is doing

Files (in --home, default ~/.config/p2ptvd):
  identity.key  config.toml  api  api.key  channels.json  lock

Environment:
  P2PTVD_HOME, P2PTVD_LOG_LEVEL, P2PTVD_LOG_FORMAT, and P2PTVD_<KEY> for every
  config.toml key (P2PTVD_PORT, P2PTVD_BOOTSTRAP, P2PTVD_MAX_UPLOAD,
  P2PTVD_NAT_PORT_MAPPING, ...). Flags beat the environment, which beats the file.

Exit codes:
  0 done, or stopped by SIGINT/SIGTERM    1 run-time failure
  2 usage error                           3 no daemon runs (status, channels, peers, leave)
  4 bad config file or environment value  5 home in use by another p2ptvd
  130 forced by a second signal
`)
	return err
}
