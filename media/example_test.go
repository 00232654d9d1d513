package media_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/p2ptv/p2ptvd/media"
)

// A Source over the demo clip: a lone SDT packet, then 2 s GOPs of four
// 500 ms chunks, each GOP opening with PAT, PMT and a keyframe.
func ExampleSource() {
	src, err := media.NewSource(bytes.NewReader(media.DemoClip()), media.SourceConfig{})
	if err != nil {
		panic(err)
	}
	for range 7 {
		ch, err := src.Next(context.Background())
		if err != nil {
			panic(err)
		}
		fmt.Printf("seq %d %-3s %3d packets %v\n", ch.Seq, ch.Flags, len(ch.Payload)/188, ch.Duration)
	}
	// Output:
	// seq 0       1 packets 0s
	// seq 1 rap 223 packets 500ms
	// seq 2     208 packets 500ms
	// seq 3     218 packets 500ms
	// seq 4     211 packets 500ms
	// seq 5 rap 247 packets 500ms
	// seq 6     207 packets 500ms
}
