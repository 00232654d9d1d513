package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netns is a network namespace this test created; it deletes it (and the
// veth ends inside) on cleanup. Only namespaces the test made are touched,
// and only addresses in 10.177.0.0/16 inside them.
type netns struct{ name string }

func (n netns) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %v: %v\n%s", n.name, args, err, out)
	}
}

func (n netns) exec(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in %s: %v: %v\n%s", n.name, args, err, out)
	}
}

func newNetns(t *testing.T, role string) netns {
	t.Helper()
	n := netns{name: fmt.Sprintf("p2ptvd-%s-%d-%04x", role, os.Getpid(), rand.IntN(1<<16))}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", n.name, err, out)
		}
	})
	n.run(t, "link", "set", "lo", "up")
	return n
}

// needNetns skips unless the test can make namespaces and a NAT in them.
func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	needTools(t, "ip", "nft")
	probe := fmt.Sprintf("p2ptvd-probe-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	exec.Command("ip", "netns", "del", probe).Run()
}

// TestBehindNAT builds a home network behind a masquerading router, all in
// namespaces the test creates: a public side with a bootstrap node and a
// broadcaster, a router that forwards only connections the home side
// opened, and a home side with a daemon. The home daemon, which nobody on
// the public side can dial, finds the channel and plays it: it dials out,
// and the reachable nodes feed it. The bootstrap node sees it only at the
// router's address.
//
//	pub 10.177.0.1 ── vp|vw ── 10.177.0.2 router 10.177.1.1 ── vl|vh ── 10.177.1.2 home
func TestBehindNAT(t *testing.T) {
	needNetns(t)
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	pub, rtr, home := newNetns(t, "pub"), newNetns(t, "rtr"), newNetns(t, "home")
	pub.run(t, "link", "add", "vp", "type", "veth", "peer", "name", "vw", "netns", rtr.name)
	home.run(t, "link", "add", "vh", "type", "veth", "peer", "name", "vl", "netns", rtr.name)
	pub.run(t, "addr", "add", "10.177.0.1/24", "dev", "vp")
	rtr.run(t, "addr", "add", "10.177.0.2/24", "dev", "vw")
	rtr.run(t, "addr", "add", "10.177.1.1/24", "dev", "vl")
	home.run(t, "addr", "add", "10.177.1.2/24", "dev", "vh")
	pub.run(t, "link", "set", "vp", "up")
	rtr.run(t, "link", "set", "vw", "up")
	rtr.run(t, "link", "set", "vl", "up")
	home.run(t, "link", "set", "vh", "up")
	home.run(t, "route", "add", "default", "via", "10.177.1.1")
	rtr.exec(t, "", "sysctl", "-qw", "net.ipv4.ip_forward=1")
	rtr.exec(t, `
table ip nat {
	chain postrouting { type nat hook postrouting priority 100; oifname "vw" masquerade; }
}
table ip filter {
	chain forward_filter {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "vl" oifname "vw" accept
	}
}
`, "nft", "-f", "-")

	// The NAT is real: nothing on the public side can open a connection to
	// the home side (no route, and the router forwards only replies).
	switch code, _, errs := runProg(t, "ip", "netns", "exec", pub.name, "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/10.177.1.2/4004"); code {
	case 0:
		t.Fatal("the public side reached the home side directly")
	case 1, 124: // refused or unreachable, or timed out
	default:
		t.Fatalf("could not probe the NAT: exit %d: %s", code, errs)
	}

	dir := t.TempDir()
	inNS := func(ns netns, args ...string) []string {
		return append([]string{"netns", "exec", ns.name, bin}, args...)
	}
	boot := startCmd(t, "bootstrap", "ip", inNS(pub, "--home", dir+"/boot", "bootstrap",
		"--listen", "/ip4/10.177.0.1/tcp/4004", "--api", "127.0.0.1:5581")...)
	if !strings.Contains(boot.first, "/ip4/10.177.0.1/tcp/4004/p2p/") {
		t.Fatalf("bootstrap printed %q", boot.first)
	}
	clip, _ := filepath.Abs("../media/testdata/demo.ts")
	caster := startCmd(t, "broadcaster", "ip", inNS(pub, "--home", dir+"/caster", "broadcast",
		"--listen", "/ip4/10.177.0.1/tcp/4005", "--bootstrap", boot.first, "--loop", "--name", "nat", clip)...)
	id := caster.first
	daemon := startCmd(t, "home daemon", "ip", inNS(home, "--home", dir+"/home", "daemon",
		"--port", "4004", "--api", "127.0.0.1:5580", "--bootstrap", boot.first)...)
	if !strings.Contains(daemon.first, "ready") {
		t.Fatalf("daemon printed %q", daemon.first)
	}

	nsCLI := func(ns netns, home string, args ...string) (int, string, string) {
		return runProg(t, "ip", append([]string{"netns", "exec", ns.name, bin, "--home", home}, args...)...)
	}
	if code, out, errs := nsCLI(home, dir+"/home", "join", id); code != 0 || !strings.HasPrefix(out, "http://127.0.0.1:5580/channel/") {
		t.Fatalf("join behind NAT: exit %d %q\n%s\ndaemon:\n%s", code, out, errs, daemon.stderr)
	}
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for {
		_, out, _ := nsCLI(home, dir+"/home", "channels", "--json")
		var cs []channelInfo
		json.Unmarshal([]byte(out), &cs)
		if len(cs) == 1 && cs[0].State == "playing" && cs[0].Buffer.Played > 0 {
			break
		}
		last = out
		if time.Now().After(deadline) {
			t.Fatalf("home daemon not playing within 45 s: %s\n%s", last, daemon.stderr)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The bootstrap node knows the home node only by the router's address.
	_, out, _ := nsCLI(pub, dir+"/boot", "peers", "--json")
	var peers []struct {
		ID    string   `json:"id"`
		Addrs []string `json:"addrs"`
	}
	json.Unmarshal([]byte(out), &peers)
	_, st, _ := nsCLI(home, dir+"/home", "status", "--json")
	var hs struct {
		Peer string `json:"peer"`
	}
	json.Unmarshal([]byte(st), &hs)
	seen := false
	for _, p := range peers {
		if p.ID != hs.Peer {
			continue
		}
		seen = true
		for _, a := range p.Addrs {
			if !strings.HasPrefix(a, "/ip4/10.177.0.2/") {
				t.Errorf("bootstrap sees the home node at %s, want the router's 10.177.0.2", a)
			}
		}
	}
	if !seen {
		t.Errorf("bootstrap has no connection to the home node %s: %s", hs.Peer, out)
	}
}

// startCmd runs name with args (here: ip netns exec ...) and waits for its
// first line of standard output, like start.
func startCmd(t *testing.T, label, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: label, cmd: exec.Command(name, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t, false) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case l, ok := <-lines:
		if !ok {
			<-p.done
			t.Fatalf("%s exited before printing a line: %v\n%s", label, p.err, p.stderr)
		}
		p.first = l
	case <-ctx.Done():
		t.Fatalf("%s printed nothing in 60 s\n%s", label, p.stderr)
	}
	return p
}
