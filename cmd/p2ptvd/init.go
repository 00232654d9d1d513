package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd/internal/config"
	"github.com/p2ptv/p2ptvd/internal/home"
	"github.com/p2ptv/p2ptvd/node"
)

// InitCmd sets up a home: identity, and a commented config file.
type InitCmd struct {
	Force bool `help:"Overwrite an existing config file."`
}

func (InitCmd) Help() string {
	return `Creates the home directory (0700), the node's identity, and config.toml:
every setting, commented out at its default. Uncomment what you change;
the rest keeps following the program's defaults.`
}

func (i InitCmd) Run(env *Env) error {
	dir, err := env.home()
	if err != nil {
		return err
	}
	k, err := node.LoadIdentity(dir)
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, home.ConfigFile)
	if fileExists(path) && !i.Force {
		return fmt.Errorf("%s exists; edit it, or pass --force to replace it with the commented defaults", path)
	}
	if err := home.WriteFileAtomic(path, []byte(config.Example), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(env.Stdout, "%s\n", path)
	fmt.Fprintf(env.Stderr, "home %s: peer %s; settings in %s\n", dir, id, path)
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
