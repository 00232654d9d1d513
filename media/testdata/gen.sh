#!/bin/sh
# Regenerates demo.ts, the clip `p2ptvd demo` loops as a live channel.
#
# 8 s of 640x360 25 fps testsrc2 (moving pattern and frame counter) in four
# 2 s GOPs, plus a 440 Hz AAC tone. The tone is trimmed to 374 AAC frames
# (382976 samples at 48 kHz): with the encoder's one frame of priming the
# audio then spans exactly the video's 8 s, so a loop of the clip repeats
# both streams with no overlap or gap at the seam.
set -eu
cd "$(dirname "$0")"
ffmpeg -hide_banner -nostdin -y \
	-f lavfi -i "testsrc2=size=640x360:rate=25:duration=8" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000,atrim=end_sample=382976" \
	-map 0:v -map 1:a \
	-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p \
	-g 50 -keyint_min 50 -sc_threshold 0 -b:v 500k -maxrate 600k -bufsize 600k \
	-c:a aac -b:a 64k -ac 1 \
	-fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
	-f mpegts demo.ts
