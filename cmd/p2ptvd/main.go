// Command p2ptvd is a trackerless peer-to-peer live-TV node: it broadcasts a
// live MPEG-TS stream, finds channels through the DHT, relays them to other
// viewers and plays them to a local player.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/libp2p/go-libp2p/gologshim"
)

// Exit codes, the same for every subcommand.
const (
	ExitOK          = 0   // done, or stopped by a signal
	ExitError       = 1   // the command failed at run time (network, input, home)
	ExitUsage       = 2   // bad flags, arguments or channel ID
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

	log, err := newLogger(stderr, cli.LogLevel, cli.LogFormat)
	if err != nil {
		fmt.Fprintln(stderr, "p2ptvd:", err)
		return ExitUsage
	}
	gologshim.SetDefaultHandler(libp2pHandler(log.Handler()))
	ctx, stop := signalContext(stderr)
	defer stop()
	env := &Env{Stdout: stdout, Stderr: stderr, Log: log, Home: cli.Home}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(env)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "p2ptvd %s: %v\n", kctx.Command(), err)
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
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

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
}
