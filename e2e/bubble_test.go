package e2e

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// stragglers is how long a bubble waits after its function returns. Time
// stops in a bubble once its main goroutine returns, and every other
// goroutine must have ended by then; libp2p leaves a few short-lived ones
// behind after Close (pubsub retries an announcement up to 1 s later).
const stragglers = 5 * time.Second

// inBubble runs f inside a testing/synctest bubble on behalf of a
// benchmark. synctest.Test needs a *testing.T and a benchmark has only a
// *testing.B, so f runs as a one-off test through testing.RunTests (the
// go command's own entry point to running tests), with a matcher that
// accepts it whatever -run says. RunTests repeats its tests for -count
// and each -cpu value: the repeats are skipped, and GOMAXPROCS is put
// back. f's log is printed only with -v or when it fails. Under the race
// detector the bubble runs on one P, as pubsub's own tests do, to stay
// clear of a runtime bug with timers in bubbles (golang/go#78156).
func inBubble(b *testing.B, f func(t *testing.T)) {
	b.Helper()
	ran := false
	procs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(procs)
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: b.Name(),
		F: func(t *testing.T) {
			if ran {
				t.SkipNow()
			}
			ran = true
			if raceEnabled {
				runtime.GOMAXPROCS(1)
			}
			synctest.Test(t, func(t *testing.T) {
				f(t)
				time.Sleep(stragglers)
			})
		},
	}})
	if !ran {
		b.Fatal("the simulation did not run (a -skip pattern?)")
	}
	if !ok {
		b.Fatal("the simulation failed")
	}
}
