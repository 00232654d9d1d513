package e2e

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestVanishingViewers: viewers that vanish (their traffic stops; their
// connections live on until the transport's idle timeout) must cost the
// others nothing. A vanished child's queue never drains. Counted in its
// parents' backlog, it made them refuse everyone, and made a source stop
// sending altogether; later joiners then never started (gossip's
// checkStalled). Three viewers on simulated links without loss, so every
// leaver was the source's child; one leaves and one joins every 2.9 s,
// every other leaver vanishing. Before the fix every run had three viewers
// that never started; since, none has, and continuity is 0.99–1.000.
func TestVanishingViewers(t *testing.T) {
	if testing.Short() {
		t.Skip("a 20 s simulated channel")
	}
	sc := plan{viewers: 3, stream: 20 * time.Second, churn: 7}.withDefaults()
	synctest.Test(t, func(t *testing.T) {
		r := runChannelSim(t, sc)
		for _, n := range r.notes {
			t.Log(n)
		}
		if n := r.metrics[unitUnstarted]; n > 0 {
			t.Errorf("%.0f viewers never started with viewers vanishing, want none", n)
		}
		if c := r.metrics[unitContinuity]; c < 0.95 {
			t.Errorf("continuity %.3f with viewers vanishing, want ≥ 0.95", c)
		}
	})
}
