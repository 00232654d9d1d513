// Package media turns an MPEG transport stream into p2ptvd chunks: it finds
// the 188-byte packet grid, reads the PAT and PMT, spots random-access
// points on the video stream, times the stream by its PCR, and cuts it
// into chunks a player can join at. It also paces a file as if it were
// live, loops it seamlessly, and marks a chunk as a discontinuity for a
// player that has missed some.
//
// It imports only the root package and the standard library: no libp2p,
// no goroutines, no clock or logger of its own (both are passed in).
//
// # Pieces
//
//   - Reader splits bytes into packets. It trusts a sync position once
//     three sync bytes line up 188 bytes apart, skips garbage and
//     resynchronises (counting skipped bytes and resyncs), and drops a
//     partial packet at the end (counted). Input with no packet in its
//     first 64 KiB is ErrNotTS.
//   - Chunker takes packets and returns chunks. It reads the PAT (first
//     program), the PMT (PCR PID, streams, the first video stream), and the
//     adaptation fields, all in place with no per-packet allocation.
//   - Source joins the two over an io.Reader, with pacing and looping.
//   - MarkDiscontinuity and DemoClip.
//
// The packet parser is written by hand rather than taken from go-astits
// (which the tests use as an oracle): the header and adaptation field are
// a few bit masks, a hand scan runs at hundreds of MB/s with no allocation
// per packet, and looping needs to rewrite PCR, PTS, DTS and continuity
// counters in place, which a demuxer that copies packets out cannot do.
//
// # Random-access points
//
// A video packet whose adaptation field has random_access_indicator set
// marks a random-access point at the PES that starts there (only on the
// video PID: ffmpeg marks audio PES starts too). Streams without RAI are
// covered by scanning each video PES, across packet boundaries, up to its
// first picture: an H.264 IDR (NAL type 5), an HEVC IRAP (16-21) or an
// MPEG-2 sequence header makes it a random-access point. x264's first IDR
// follows a ~700-byte SEI, so the scan looks up to 16 packets into the
// PES, and the cut goes back to where the PES began.
//
// # Chunking rules
//
//   - A chunk is whole packets; Seq counts from 0.
//   - A new chunk starts before every video random-access point. If the
//     packets just before it are a PAT, a PMT and only non-video packets
//     (what ffmpeg writes before a keyframe), the cut goes before the PAT,
//     so the chunk starts PAT, PMT, keyframe. Otherwise copies of the
//     latest PAT and PMT packets are put in front. Such chunks, and only
//     they, are flagged p2ptvd.RandomAccess: a player can start with one.
//     The copies are exact duplicates of the latest PAT and PMT packets,
//     continuity counter included, which MPEG-TS allows once, so a player
//     already following the stream sees no continuity error.
//   - A chunk is also cut when the next packet would take it past
//     ChunkerConfig.MaxBytes (default 64 KiB, in whole packets) or its media
//     time past MaxDuration (default 500 ms). If a PAT (and what followed
//     it, no video) sits at the end, the cut goes before it, to keep the
//     tables with the keyframe that usually follows.
//   - Durations are media time; the end of one chunk is the start of the
//     next, so they add up to the stream's length, and the chunk that
//     holds a keyframe starts at the keyframe's time: with a 2 s GOP and
//     500 ms chunks, every GOP is exactly four chunks. The last chunk's
//     duration runs to one packet past its last packet.
//   - Timestamp is the wall-clock time the first packet arrived, plus the
//     media time since; each chunk's Timestamp is exactly the previous
//     one's plus its Duration. (Source makes one exception, below.)
//
// Media time comes from the PCR of the program's PCR PID, or from video
// DTS where the stream has no PCR (or until its first PCR). Between clock
// references a packet's time runs on at the last interval's byte rate
// (not past where the next reference is due), so a packet is timed when
// it arrives. A reference that goes back, or leaps forward more than
// 10 s, or carries the discontinuity_indicator, does not make time jump:
// the timeline carries on and the chunk is flagged p2ptvd.Discontinuity.
// A stream with neither PCR nor PTS gets the clock's time for every
// chunk, zero durations, no pacing, and chunks cut by size only.
//
// # Source
//
// A Source reads until the PAT and PMT show a program with video, holding
// what it reads (at most 4 MiB, else ErrNoProgram), then feeds the chunker.
// Audio-only programs are ErrNoProgram for now: random access is defined
// by the video. With Pace, Next returns each chunk when its last packet is
// due in media time (Timestamp + Duration), so a file plays as if live;
// the wait honours ctx, and a chunk whose wait was cut short comes from
// the next call. A Read that blocks cannot be interrupted: close the
// reader to unblock Next.
//
// Media time is the clock of a live stream only while the stream flows.
// When a chunk is delivered more than 2 s after its end was due (the input
// stalled, or was restarted and the timeline carried on), the Source moves
// that chunk's and all later timestamps up to the wall clock, so that live
// chunks are never stamped with the past; Stats.Stalls counts it. This is
// the one place where a Timestamp jumps, and only forward.
//
// # Looping
//
// With Loop, the input (an io.ReadSeeker) is read again from the start
// when it ends. The first pass is measured: the loop period is the
// smallest shift that places every stream's next first PTS and DTS one
// frame after its last (for video the last DTS step; for audio, whose PES
// hold several frames, that step scaled by the last PES's size), and the
// next first PCR after the last. Each later pass adds the period times the
// pass number to every PCR, OPCR, PTS and DTS, and shifts each PID's
// continuity counter so that it runs on across the seam. The output is one
// continuous stream: no timestamp jump, no CC error, ffmpeg decodes it
// without a warning, and the chunk after a seam is an ordinary
// random-access chunk, not a Discontinuity. The demo clip's audio is cut
// to the video's length (see testdata/gen.sh) so that its period is
// exactly 8 s.
//
// # Goroutines
//
// None. Reader, Chunker and Source are for one goroutine at a time, except
// Source.Stats, which may be called from any.
package media
