package gossip

import (
	"errors"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

func TestWindow(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		seq  uint64
		ts   time.Time
		now  time.Time
		want error
	}
	tests := []struct {
		name  string
		steps []step
		high  uint64
	}{
		{"in order", []step{{0, sec(0), sec(0), nil}, {1, sec(1), sec(1), nil}, {2, sec(2), sec(2), nil}}, 2},
		{"reordered inside window", []step{{20, sec(5), sec(5), nil}, {11, sec(3), sec(5), nil}, {10, sec(2.5), sec(5), nil}}, 20},
		{"far behind and older: replay", []step{{100, sec(10), sec(10), nil}, {89, sec(8), sec(10), ErrOutOfWindow}}, 100},
		{"far behind but newer: owner restarted at 0", []step{{100, sec(10), sec(10), nil}, {0, sec(11), sec(11), nil}, {1, sec(12), sec(12), nil}}, 1},
		{"too old", []step{{0, sec(0), sec(61), ErrStale}}, 0},
		{"just old enough", []step{{0, sec(0), sec(60), nil}}, 0},
		{"from the future", []step{{0, sec(61), sec(0), ErrFuture}}, 0},
		{"skewed ahead within limit", []step{{0, sec(59), sec(0), nil}}, 0},
		{"rejected chunk does not move window", []step{{5, sec(0), sec(0), nil}, {500, sec(100), sec(0), ErrFuture}, {6, sec(1), sec(1), nil}}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(10, 60*time.Second)
			for i, s := range tt.steps {
				c := p2ptvd.Chunk{Seq: s.seq, Timestamp: s.ts}
				if err := w.probe(c, s.now); !errors.Is(err, s.want) {
					t.Fatalf("step %d: probe(seq %d) = %v, want %v", i, s.seq, err, s.want)
				}
				if err := w.admit(c, s.now); !errors.Is(err, s.want) {
					t.Fatalf("step %d: admit(seq %d) = %v, want %v", i, s.seq, err, s.want)
				}
			}
			if got, _ := w.high(); got != tt.high {
				t.Errorf("highest = %d, want %d", got, tt.high)
			}
		})
	}
}
