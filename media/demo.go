package media

import _ "embed"

// demoClip is testdata/demo.ts (see testdata/gen.sh): 8 s of 640x360
// H.264 test pattern and AAC tone in four 2 s GOPs, 645 KB. It is a string
// so that the embedded bytes cannot be modified.
//
//go:embed testdata/demo.ts
var demoClip string

// DemoClip returns a fresh copy of the demo clip, an 8 s MPEG-TS of
// 640x360 25 fps H.264 test pattern with an AAC tone, in 2 s GOPs that
// start with PAT, PMT and a keyframe. It loops seamlessly through a Source
// with Loop set, which is how `p2ptvd demo` plays it as a live channel.
func DemoClip() []byte { return []byte(demoClip) }
