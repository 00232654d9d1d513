package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/p2ptv/p2ptvd/internal/api"
	"github.com/p2ptv/p2ptvd/node"
)

// status says how many connections a broadcaster refused, and only when
// it refused some.
func TestStatusRefused(t *testing.T) {
	for _, c := range []struct {
		limits node.Limits
		want   string
	}{
		{node.Limits{SourcePeers: 32}, ""},
		{node.Limits{SourcePeers: 32, InboundRefused: 130}, "130 inbound connections while broadcasting (source_peers 32)"},
	} {
		var out bytes.Buffer
		printStatus(&Env{Stdout: &out}, "http://127.0.0.1:5580", api.Status{Limits: c.limits})
		got := out.String()
		if has := strings.Contains(got, "refused"); has != (c.want != "") || !strings.Contains(got, c.want) {
			t.Errorf("limits %+v: status\n%s\nwant a refused line %q", c.limits, got, c.want)
		}
	}
}
