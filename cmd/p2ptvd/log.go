package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
)

// libp2pHandler routes go-libp2p's own logs into the command's handler, so
// they share its format and destination. They are kept at warnings and
// above unless GOLOG_LOG_LEVEL (go-libp2p's own variable, e.g.
// "error,dht=debug") says otherwise, and the constructor's start-up
// failures are dropped: the command reports the error it returns, once.
func libp2pHandler(h slog.Handler) slog.Handler {
	l := &levelHandler{inner: h, def: slog.LevelWarn, per: map[string]slog.Level{"p2p-config": slog.LevelError + 4}}
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
			l.def = v
		} else {
			l.per[sys] = v
		}
	}
	return l
}

type levelHandler struct {
	inner  slog.Handler
	def    slog.Level
	per    map[string]slog.Level
	system string
}

func (h *levelHandler) min() slog.Level {
	if v, ok := h.per[h.system]; ok {
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
		if a.Key == "logger" {
			c.system = a.Value.String()
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
