// Command p2ptvd is a trackerless peer-to-peer live-TV node: it broadcasts a
// live MPEG-TS stream, finds channels through the DHT, relays them to other
// viewers and plays them to a local player.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	sdnotify "github.com/coreos/go-systemd/v22/daemon"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/willabides/kongplete"
)

// Exit codes, the same for every subcommand. contrib/systemd's units name
// them: a service manager restarts on ExitError, never on ExitUsage,
// ExitConfig or ExitLocked, which a restart cannot fix.
const (
	ExitOK          = 0   // done, or stopped by a signal and shut down in time
	ExitError       = 1   // the command failed at run time (network, input, a slow shutdown)
	ExitUsage       = 2   // bad flags, arguments or channel ID
	ExitNotRunning  = 3   // status, channels, peers, leave: no daemon runs on this home
	ExitConfig      = 4   // a bad config file or P2PTVD_* value
	ExitLocked      = 5   // the home is in use by another p2ptvd process
	ExitInterrupted = 130 // a second signal forced the exit
)

// usageError marks an error the user can fix by changing the command line.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("p2ptvd"),
		kong.Description("A trackerless peer-to-peer live-TV node. Broadcast a live MPEG-TS stream, or join a /channel/<cid> and play it in VLC, mpv or ffplay; every viewer relays to other viewers."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Vars{"version": versionString()},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Help(helpWithFooter),
	)
	if err != nil {
		fmt.Fprintln(stderr, "p2ptvd:", err)
		return ExitError
	}
	exitCode := -1
	parser.Exit = func(code int) {
		if exitCode < 0 {
			exitCode = code
		}
	}
	// A shell asking for completions (COMP_LINE set, see 'p2ptvd
	// completion') is answered here, before parsing.
	kongplete.Complete(parser, kongplete.WithExitFunc(parser.Exit))
	if exitCode >= 0 {
		return exitCode
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 { // --help or --version already printed
		return exitCode
	}
	if err != nil {
		parser.Errorf("%s", err)
		var pe *kong.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(stderr, "run 'p2ptvd %s --help' for usage\n", commandPath(pe.Context))
		}
		return ExitUsage
	}

	levels, err := parseLevels(cli.LogLevel)
	if err != nil {
		fmt.Fprintln(stderr, "p2ptvd:", err)
		return ExitUsage
	}
	log, base := newLogger(stderr, levels, cli.LogFormat)
	gologshim.SetDefaultHandler(libp2pHandler(base, levels))
	ctx, stop := signalContext(stderr)
	defer stop()
	env := &Env{
		Stdout: stdout, Stderr: stderr, Log: log, Home: cli.Home, Getenv: os.Getenv,
		Notify: func(state string) { sdnotify.SdNotify(false, state) },
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(env)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "p2ptvd %s: %v\n", kctx.Command(), err)
	return exitCodeOf(err)
}

func exitCodeOf(err error) int {
	var (
		ue usageError
		ce configError
		le lockedError
		ne notRunningError
	)
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ce):
		return ExitConfig
	case errors.As(err, &le):
		return ExitLocked
	case errors.As(err, &ne):
		return ExitNotRunning
	}
	return ExitError
}

func commandPath(k *kong.Context) string {
	if k == nil {
		return ""
	}
	return k.Command()
}

// signalContext is cancelled by the first SIGINT or SIGTERM, so the command
// shuts down gracefully; a second signal exits at once.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "p2ptvd: %s: shutting down (again to force)\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "p2ptvd: forced exit")
			os.Exit(ExitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
