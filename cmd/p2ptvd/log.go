package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// levels are log levels: a default and per package ("dht", "gossip", ...;
// "libp2p" for go-libp2p's own logs).
type levels struct {
	def slog.Level
	per map[string]slog.Level
}

// lowest is the most verbose level in use: the base handler must let it
// through, the per-package filter does the rest.
func (l levels) lowest() slog.Level {
	m := l.def
	for _, v := range l.per {
		m = min(m, v)
	}
	return m
}

// parseLevels reads "info" or "warn,dht=debug,gossip=info".
func parseLevels(s string) (levels, error) {
	l := levels{def: slog.LevelInfo, per: map[string]slog.Level{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pkg, lvl, ok := strings.Cut(part, "=")
		if !ok {
			pkg, lvl = "", part
		}
		var v slog.Level
		if err := v.UnmarshalText([]byte(strings.TrimSpace(lvl))); err != nil {
			return l, fmt.Errorf("--log-level %q: %q is not debug, info, warn or error", s, lvl)
		}
		if pkg == "" {
			l.def = v
		} else {
			l.per[strings.TrimSpace(pkg)] = v
		}
	}
	return l, nil
}

// newLogger returns the command's logger, which filters by the "pkg"
// attribute, and the unfiltered base handler the libp2p logs share.
func newLogger(w io.Writer, l levels, format string) (*slog.Logger, slog.Handler) {
	opts := &slog.HandlerOptions{Level: l.lowest()}
	var base slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		base = slog.NewJSONHandler(w, opts)
	}
	return slog.New(&levelHandler{inner: base, key: "pkg", def: l.def, per: l.per}), base
}

// libp2pHandler routes go-libp2p's own logs into the command's handler, so
// they share its format and destination. They are kept at warnings and
// above unless --log-level says libp2p=LEVEL or GOLOG_LOG_LEVEL (go-libp2p's
// own variable, e.g. "error,dht=debug") says otherwise, and the
// constructor's start-up failures are dropped: the command reports the
// error it returns, once.
func libp2pHandler(h slog.Handler, l levels) slog.Handler {
	lh := &levelHandler{inner: h, key: "logger", def: slog.LevelWarn, per: map[string]slog.Level{"p2p-config": slog.LevelError + 4}}
	if v, ok := l.per["libp2p"]; ok {
		lh.def = v
	}
	for _, part := range strings.Split(os.Getenv("GOLOG_LOG_LEVEL"), ",") {
		sys, lvl, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			sys, lvl = "", sys
		}
		var v slog.Level
		if v.UnmarshalText([]byte(lvl)) != nil {
			continue
		}
		if sys == "" {
			lh.def = v
		} else {
			lh.per[sys] = v
		}
	}
	return lh
}

// levelHandler filters records by the level set for the value of one
// attribute (the package or the libp2p subsystem).
type levelHandler struct {
	inner slog.Handler
	key   string
	def   slog.Level
	per   map[string]slog.Level
	value string
}

func (h *levelHandler) min() slog.Level {
	if v, ok := h.per[h.value]; ok {
		return v
	}
	return h.def
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min() && h.inner.Enabled(ctx, l)
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min() {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == h.key {
			c.value = a.Value.String()
		}
	}
	c.inner = h.inner.WithAttrs(attrs)
	return &c
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	return &c
}
