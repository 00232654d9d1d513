package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// CompletionCmd prints a shell completion script. Completion itself is
// answered by the binary (kongplete) when the shell calls it with
// COMP_LINE set, so the script only registers it.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c CompletionCmd) Run(env *Env) error {
	bin, err := os.Executable()
	if err != nil {
		bin = "p2ptvd"
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	switch c.Shell {
	case "bash":
		fmt.Fprintf(env.Stdout, "complete -C %q p2ptvd\n", bin)
	case "zsh":
		fmt.Fprintf(env.Stdout, "autoload -U +X bashcompinit && bashcompinit\ncomplete -o nospace -C %q p2ptvd\n", bin)
	case "fish":
		fmt.Fprintf(env.Stdout, "complete -c p2ptvd -f -a '(env COMP_LINE=(commandline -cp) %s)'\n", bin)
	}
	return nil
}
