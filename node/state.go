package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/internal/home"
)

// state is channels.json: the channels a node joined and has not left, so
// a restarted daemon rejoins them.
type state struct {
	Channels []string `json:"channels"` // /channel/<cid>
}

func (n *Node) statePath() string { return filepath.Join(n.cfg.Home, home.ChannelsFile) }

// Remembered lists the channels recorded in the home directory. A missing
// file is an empty list; a damaged one is an error that names it.
func (n *Node) Remembered() ([]p2ptvd.ChannelID, error) {
	if n.cfg.Home == "" {
		return nil, nil
	}
	b, err := os.ReadFile(n.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", n.statePath(), err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", n.statePath(), err)
	}
	var ids []p2ptvd.ChannelID
	for _, s := range st.Channels {
		id, err := p2ptvd.ParseChannelID(s)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n.statePath(), err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// remember adds (join) or removes (leave) a channel in channels.json.
func (n *Node) remember(id p2ptvd.ChannelID, join bool) {
	if !n.cfg.Remember || n.cfg.Home == "" {
		return
	}
	n.stateMu.Lock()
	defer n.stateMu.Unlock()
	ids, err := n.Remembered()
	if err != nil {
		n.log.Warn("channel state damaged; starting it afresh", "err", err)
		ids = nil
	}
	has := slices.Contains(ids, id)
	switch {
	case join && !has:
		ids = append(ids, id)
	case !join && has:
		ids = slices.DeleteFunc(ids, func(x p2ptvd.ChannelID) bool { return x == id })
	default:
		return
	}
	st := state{Channels: make([]string, len(ids))}
	for i, x := range ids {
		st.Channels[i] = x.Path()
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := home.WriteFileAtomic(n.statePath(), append(b, '\n'), 0o600); err != nil {
		n.log.Warn("save channel state", "err", err)
	}
}

// Resume rejoins the remembered channels in the background, each until it
// is joined, the user leaves it (Leave), or the node closes. It returns at
// once; Resuming lists the channels not joined yet.
func (n *Node) Resume() error {
	ids, err := n.Remembered()
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	for _, id := range ids {
		if _, ok := n.channels[id]; ok {
			continue
		}
		if _, ok := n.resuming[id]; ok {
			continue
		}
		n.resuming[id] = nil
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.resume(id)
		}()
	}
	return nil
}

// Resuming lists the channels Resume is still trying to rejoin, with the
// last attempt's error (nil before the first attempt ends).
func (n *Node) Resuming() map[p2ptvd.ChannelID]error {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[p2ptvd.ChannelID]error, len(n.resuming))
	for id, err := range n.resuming {
		out[id] = err
	}
	return out
}

func (n *Node) resume(id p2ptvd.ChannelID) {
	wait := 2 * time.Second
	for {
		if !n.stillResuming(id) {
			return
		}
		ctx, cancel := context.WithTimeout(n.ctx, time.Minute)
		_, err := n.join(ctx, id)
		cancel()
		n.mu.Lock()
		_, still := n.resuming[id]
		if err == nil || !still || n.closed {
			delete(n.resuming, id)
			n.mu.Unlock()
			if err == nil {
				n.log.Info("rejoined", "channel", id.String())
			}
			return
		}
		n.resuming[id] = err
		n.mu.Unlock()
		level := n.log.Info
		if !errors.Is(err, dht.ErrNoProviders) {
			level = n.log.Warn
		}
		level("rejoin failed; retrying", "channel", id.String(), "in", wait, "err", err)
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Minute)
	}
}

func (n *Node) stillResuming(id p2ptvd.ChannelID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.resuming[id]
	return ok && !n.closed
}
