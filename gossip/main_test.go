package gossip

import (
	"runtime"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bubble runs f in a synctest bubble: virtual time, and the test fails if
// any goroutine outlives it. Under the race detector it runs on one P,
// as pubsub's own tests do, to stay clear of a runtime bug with timers in
// bubbles (golang/go#78156).
func bubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	if raceEnabled {
		prev := runtime.GOMAXPROCS(1)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	synctest.Test(t, f)
}
