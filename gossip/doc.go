// Package gossip carries a channel's chunks over a per-channel gossipsub
// topic (go-libp2p-pubsub v0.19): the signed chunk format; partial messages
// that move each chunk as 8 KiB parts, only on request or standing
// subscription; the checks on every head and part before it is stored,
// relayed or played; the upload budget; the validator and live window for
// whole chunks; gossipsub parameters, scoring and blacklisting; counters.
//
// A Service is one gossipsub router per host. Join subscribes to a
// channel's topic, /p2ptv/1/<channel cid in base32>, asking for partial
// messages, and returns a Channel: Publish signs and sends a chunk
// (broadcaster), Next returns verified chunks (viewer), and every member
// that does not only consume serves what it holds to peers that ask.
//
// # Chunks, wire format version 1
//
// A chunk is a signed head and its payload. Integers are big-endian.
//
//	offset      size   field
//	0           4      magic "P2TV"
//	4           1      version, 1
//	5           1      flags: bit 0 random access, 1 discontinuity, 2 end of stream; others 0
//	6           2      reserved, 0
//	8           8      seq, u64
//	16          8      timestamp, i64 Unix nanoseconds, the source's wall clock
//	24          4      duration, u32 microseconds
//	28          4      payload length P, u32
//	32          4      part size, u32, PartSize (8192)
//	36          2      part count N = ceil(P / 8192), u16
//	38          32·N   sha2-256 of each payload part; the last part may be short
//	38+32N      1      channel CID length L (36 for a channel ID)
//	39+32N      L      channel CID, binary (CIDv1, raw, sha2-256)
//	39+32N+L    64     Ed25519 signature by the manifest's owner key
//	103+32N+L   P      payload: whole MPEG-TS packets
//
// The signature covers SignatureDomain ("p2ptv chunk v1\x00") and every
// byte before it, so through the part hashes it covers the payload. The
// head is everything before the payload, 395 bytes (0.6%) for a 64 KiB
// chunk of 8 parts; holding every part's hash, it lets each part be checked
// on its own, so one chunk's parts can come from different peers (DESIGN
// §3). Head and payload together are what peers without partial messages
// get. Open accepts a whole chunk only if every field is as above, the
// lengths add up exactly, the payload is at most MaxPayload (1 MiB by
// default), the channel is the topic's, the owner's signature verifies and
// every part hash matches; each failure wraps a sentinel (ErrMalformed,
// ErrVersion, ErrTooLarge, ErrWrongChannel, ErrBadSignature, ErrBadPayload,
// ErrBadKey). Encode is deterministic and Open accepts no other encoding
// of a chunk (FuzzOpen).
//
// # Partial messages
//
// Each chunk is a group of pubsub's partialmessages extension. Partial
// messages skip pubsub's pipeline (message IDs, seen cache, validators,
// IHAVE/IWANT, scoring; DESIGN §5a), so each Channel's engine does that
// work itself. An RPC carries the topic, a group ID, parts metadata and a
// data message, either possibly empty. Both start with partialVersion (1):
// an RPC of another version is ignored, not penalised, so a new version
// can roll out among old peers. Each decoder accepts one encoding per
// message (FuzzDecodeMeta, FuzzDecodeData, FuzzOpenHead). Group ID,
// groupIDSize (24) bytes:
//
//	offset  size  field
//	0       8     seq, u64
//	8       16    first 16 bytes of sha2-256("p2ptv group v1\x00" ‖ head)
//
// The seq is in the clear so a group is placed in the live window before
// its head arrives; the digest binds the group to one head, so a head must
// hash to the group it came under (else ErrBadGroup), and a forged or
// re-signed head names another group. Parts metadata:
//
//	offset  size  field
//	0       1     version, 1
//	1       1     flags: bit 0 head, 1 random access, 2 busy, 3 seed, 4 heads, 5 peers,
//	              6 start; bit 7 is 0
//	2       1     free: the sender's spare subscription slots, 0..255
//	3       1     mask: bit i if bitmap i follows (0 have, 1 want, 2 sub, 3 unsub, 4 ack, 5 drop),
//	              bit 6 if depths follow; bit 7 is 0
//	4       1     L, bytes per bitmap, 1..maxBitmap (255); 1 if the mask is 0
//	5       L·k   the k bitmaps the mask names, in order; part i is bit i%8 of byte i/8
//	5+L·k   8L    if mask bit 6, depths: one byte per part index, noDepth (255) without a parent
//
// Have: parts the sender holds, verified. Want: parts it asks for now (an
// empty want asks for the head alone). Sub and unsub: indices it wants
// pushed from now on, or no longer. Ack: the receiver's sub bits it
// accepted. Drop: indices it stops pushing, or declined. Flag head: it
// holds the verified head; in a request, "do not send the head". Busy: it
// serves no requests now. Seed: the ack bits are indices the source
// assigns. Heads: put the head in the first push of each chunk (sent with
// a sub bitmap, maybe empty). Peers: introduce me to some. Start: the
// sender has not started playing, so what it asks for behind the live edge
// is the GOP it starts with, not a repair. Data:
//
//	size   field
//	1      version, 1
//	1      flags: bit 0 head, bit 1 introductions; others 0
//	4+H    if head: u32 H, 1..maxHead (65638), and the head
//	1+…    if introductions: u8 count ≤ maxIntros (16), each a u8-length peer ID (1..64 bytes)
//	       and a u8 count ≤ maxIntroAddrs (4) of u16-length binary multiaddrs (1..256 bytes)
//	4+n    to the end, parts by increasing index: u16 index < maxParts (2040), u16 n (1..8192), bytes
//
// A 255-byte bitmap holds 2040 parts, so MaxPayload is clamped to
// 2040×8 KiB. What the engine queues for one peer and group goes out as
// RPCs of at most partsPerRPC (2) parts, the first with metadata, head and
// introductions.
//
// # Fetching
//
// A node announces what it holds of a chunk to its partial-message mesh
// peers (have bitmap, flags, free slots, depths) when it first holds a
// part and when complete, skipping peers known to hold it all. A peer asks
// each missing part of one announcer: not one tried for it, busy in the
// last busyFor (300 ms) or distrusted; preferably one that brings it few
// indices already, has few of its requests outstanding and announced early
// (nearer the source); the source last. The asked peer sends what it lacks
// on arrival. Unanswered after requestTimeout (700 ms), or answered busy,
// the part is asked elsewhere; once all were tried, the round starts over.
// Of chunks over two seqs behind the highest verified, a peer is asked at
// most maxOutstanding (6) parts at a time: a joiner asking one neighbour
// for a GOP would queue a second in front of its live pushes.
//
// The first peer asked for parts of a chunk whose head is missing sends
// the head too; the others are asked with the head flag. Parts that come
// first wait unverified (maxPendingParts, 64 a chunk); with no head after
// headWait (150 ms) it is asked of their sender, then of others. A group
// without a head is made only for a connected sender, Window seqs behind
// to lookAhead (256) ahead of the highest verified, within maxGroups (384)
// and maxUnverifiedPerPeer (32), so made-up group IDs cost little (the
// extension's own limits are raised to 4096 per topic, 256 per peer). A
// chunk is pursued for giveUp (5 s) after first heard of, not once
// staleAfter (5 s) of stream time (and 8 seqs) behind, and not once the
// reader has played or skipped it (Channel.Playing; the node reports its
// buffer's playhead): fetching it then only takes upload from chunks still
// to be played. A chunk is kept for keep (10 s) to serve others.
//
// # Standing subscriptions and the tree
//
// A request for part j of a live chunk, when j has no parent or its parent
// is being replaced, carries sub bit j: the peer, if it has a slot, then
// pushes part j of every later chunk the moment it holds it. It answers
// with ack bits, and drop bits for what it declined (the decliner is
// passed over for declineFor, 5 s). One parent is asked with the heads
// flag, so pushed parts verify at once. A part that comes first from
// elsewhere is reported (have bits) to its parent and any peer asked, so
// they do not push a duplicate; a push neither asked for nor subscribed to
// gets unsub.
//
// Depth is 0 at the source and one more than the acked parent's at a
// relay. A new parent is chosen as above, preferring the shallow (each hop
// is a link's latency and a place in a queue), free slots, and peers that
// did not decline lately. A part still missing reparentAfter (300 ms, the
// prototype's, DESIGN §5) after its chunk was first heard of is asked
// elsewhere and its parent's late count grows by one, halving with each
// part brought on time; past lateLimit (2.5), three late chunks in a row,
// the next request subscribes elsewhere and the parent gets unsub: one
// late chunk is a passing queue, not a bad parent. While the parent is
// kept, the request waits for its push longer by what the time until the
// reader plays the chunk exceeds playSlack (1 s), at most lateWait
// (500 ms): asked at once, such parts often came twice, and at N=50 those
// requests and duplicates kept the relays' uplinks and the source busy
// (docs/PERFORMANCE.md). A parent that drops an index or disconnects is
// replaced by the next request. Once a second improve moves at most one
// index held by a parent for over 2 s to a mesh peer with free slots two
// or more hops shallower than that parent: trees grown from whoever
// announced first get deep.
//
// # The source
//
// The broadcaster pushes each part index to one child, so its upload stays
// one copy whatever the audience. An index without a child goes to a seed:
// a usable mesh peer, preferably with 5 or more free slots (a slow uplink
// starves its tree), few indices from the source, known longest; one that
// lost an index within badSeedFor (30 s) only if nobody else is there. A
// node that only consumes serves no tree: it gives back an index it is
// seeded with (unsub, busy), and a seed that does so counts as one that
// lost an index. Kept as a seed, a consumer starved its neighbours of its
// indices but for the source's answers (TestConsumerDeclinesSeed). The
// seed gets ack bits with the seed flag, takes the source as parent, and
// gets the heads. While the busiest seed holds more than its share (parts
// ÷ mesh peers, rounded up; leased indices not counted) and the mesh peer
// seeding would pick holds less, each publish moves one index from it to
// that peer, or the first viewer in would root every tree; an index seeded
// within seedSettle stays, its tree still growing. Nothing moves when
// seeding would pick the busiest seed again: it did while the idle
// peers had few free slots, and the index was dropped and acked back to
// the same peer every publish (TestRebalanceSeeds).
// The mesh spreads a chunk's parts among itself; the source announces it
// only revealAfter (500 ms, the prototype's) after publishing, then answers
// requests (it is asked last): playing viewers' within sourceRepair (0.2)
// of the stream rate, joiners' (flag start) within sourceJoin (0.2) more.
// Each bucket holds at least one chunk, or a whole chunk asked at once
// would never be answered.
//
// A seed that passes nothing on (gone, overloaded, withholding) makes many
// peers ask the source for its index. Once a second the source drops at
// most one seed whose index, seeded over 2 s ago, had repairLimit (6)
// parts asked of it (halved each second) by half its mesh and twice the
// median askers per index. The median is over every index: over those
// asked for alone, a seed withholding the only index anyone asked for was
// its own median and kept it (TestOrphanedIndexReseeded). The new seed
// also gets the index's parts of the last second, as does the one that
// follows a seed found stalled or gone: those went with it
// (TestLostSeedHandsOver). Counting askers, not
// parts, keeps a rogue seed that asks for every other index from making
// its own look typical. Early on the source is the only announcer, so
// beyond one child per index it lends sourceLease (an eighth of a copy,
// at least one index) of subscriptions to joiners (flag start), each
// peer's for leaseFor (4 s); when a lease ends the children find other
// parents or ask again. A playing viewer gets no lease (its requests are
// repairs, within the answers' allowance): lent to anyone, the lease was
// taken nearly all run at N=200 and under churn (0.12 of the stream, of
// 0.125), long after the launch storm; lent to joiners alone the source
// sent 1.45–1.46× under churn (1.53–1.55×) and 1.31–1.40× per 5 s bin
// after the storm at N=200 (1.45–1.55×), with continuity in the same
// spread (docs/PERFORMANCE.md). With a
// whole copy to lend, the source sent 2.3–2.4× the stream at N=200 and
// under churn, not only in the launch storm: late parts whose only
// announcer was the source kept the lease and the answers' allowance
// spent all run. With one index and answers at 0.4 it sent 1.7× (leases
// 0.12, answers 0.40, metadata and transport 0.2): at N=200 its own
// children asked it for late parts all run, several times what it
// answered. With every answer held to 0.2, N=200 played 0.982 and 0.989
// in two runs (0.931–0.980 before) and the source sent 1.53×, but N=50's
// joiners started 2 s later; with joiners' own 0.2 on top, N=200 played
// 0.988 and 0.958 and the source sent 1.61×, 1.45–1.55× once the launch
// storm was over (docs/PERFORMANCE.md has the runs). At 0.2 a withholding
// seed cost chunks in TestRogueParts until the median counted every index.
//
// # Joining
//
// Early in a broadcast the DHT names only the source, so a node whose
// engine knows fewer than wantPeers (8) peers asks one (mesh first, the
// same one at most every 10 s) for introductions every askPeersEvery (2 s);
// the answer, at most every 2 s per asker, names up to introCount (8)
// peers, mesh first, with their peerstore addresses, and the Service dials
// the unknown ones. A relay announces to each new mesh peer its complete
// chunks from the latest random-access one (up to keep/2 old), so a joiner
// fetches the current GOP at once. A joiner starts at the newest complete
// random-access chunk if no newer random-access chunk is known, or at an
// older one with a gapless run to the newest complete one; it goes to Next
// with the complete chunks after it in seq order, those before it are
// dropped. Fed in arrival order, the buffer would start at the first
// keyframe chunk to arrive and skip what of its GOP was still on the way.
// With no start after startupWait (1.5 s), it starts at the newest
// random-access chunk it holds, gaps or not (an older one would start the
// buffer further behind), or with all it holds if it holds none; but while
// a newer random-access chunk with a verified head is on its way, it waits
// for that one up to 2×startupWait. Until it starts, a joiner asks for no
// chunk before the newest random-access chunk whose head it has verified (a
// forged flag in an announcement cannot raise that line): it will start
// there or later. Where random-access chunks come less than startBehind (1
// s) apart (audio alone), any may start the stream and it fetches them all:
// a line that moved with each new head would leave every chunk still on its
// way behind it. In a launch storm the first relays lag the source by
// seconds and announce their own, older GOPs to each new mesh peer; a
// joiner that fetched those took upload from the chunks it would play, and
// then started at one of them, seconds behind for good.
//
// # Upload
//
// A slot is one part index of every chunk. Every 250 ms checkUpload sets a
// relay's slots to min(maxCopies (3), subShare (0.75) × budget ÷ rate)
// times the part count, leaving the rest for answers, announcements and
// overhead. The rate is measured from chunks completed in the last 4 s,
// never below the manifest's bitrate (4 Mbit/s without one). The budget,
// split over the joined channels, is MaxUpload, or if that is 0 learnt:
// guessCopies (2) copies ÷ subShare at first, 0.9 of what the uplink wrote
// (at least rate/4) after two checks in a row with a backlog (queued in
// pubsub, not written, per the raw tracer) over overloadAfter (250 ms) of
// draining, a tenth more after 10 s calm with every slot taken. Queued
// RPCs cannot be cancelled and a child waiting behind them replaces its
// parent, so two such checks also shed a quarter of the subscriptions,
// newest children first, with drop bits. A request is refused (busy flag,
// nothing sent) while the backlog is over busyAfter (300 ms) of draining,
// the asker's queue holds over maxPeerBacklog (64 KiB), or the source's
// repair allowance is spent; only then does a relay say busy, which in
// every announcement would turn everyone away. 300 ms is just under the
// answer line's limit (350 ms, below), which drops an answer that waited
// too long with a busy notice anyway: at 150 ms relays refused requests
// they would have served in time, and an asker passes a busy peer over for
// busyFor, so under 1% loss a third of all requests were refused and parts
// went round four or five peers. The source says busy at srcBusyAfter
// (150 ms), half that backlog: its pushes are the only copy of each index,
// and at 300 ms its answers made them late (ChannelSim/N=10 0.977 against
// 0.997, means of six runs; docs/PERFORMANCE.md).
//
// A relay answers a joiner (flag start) asking for a chunk behind the live
// edge (over catchUpBehind, 750 ms of stream time, behind its newest: its
// GOP) only while its backlog is under catchUpBacklog (64 KiB), and from
// an allowance of catchUpShare (0.25) of the stream rate (a bucket of one
// second's worth); else it says busy, and the asker asks it for no such
// chunk for busyFor but still for live ones. A viewer that plays asks for
// such a chunk to repair one it is about to play, and gets it within the
// sender's limits alone (below): under 1% loss most chunks need a repair,
// and the allowance refused them (churn 0.52 and 0.65 in two runs, against
// 0.50–0.59 without the flag; docs/PERFORMANCE.md). In the launch storm
// of ChannelSim/N=200 most parts asked for were over 1.5 s old, and
// serving them made every live part late (docs/PERFORMANCE.md has the
// figures). The limit was 16 KiB then, before parts waited in the engine's
// lines where catch-up goes last; a joiner into a running channel then
// spent 0.8 s (p50) on its GOP, many requests answered busy. At 64 KiB
// startup p50 fell by 0.3–1.2 s (N=50 3.4 s, N=200 3.8–3.9 s, churn
// 3.9–4.6 s), with continuity within runs' spread (N=50 0.969, N=200
// 0.911 and 0.929, churn 0.928 and 0.863, against 0.974, 0.917 and
// 0.873–0.919); doubling the allowance as well cost continuity in every
// run. The backlog in these
// rules counts the parts waiting to be sent (below) as well as pubsub's
// queues. With ConsumeOnly a node has no slots, says busy in all it sends
// and never announces, but fetches and subscribes (TestConsumeOnly).
//
// # Sending
//
// Pubsub's per-peer outbound queues are FIFO and cannot be cancelled: a
// part handed to them waits behind everything handed before it, however
// stale. So metadata, heads and introductions go to pubsub at once, but
// parts wait in the engine's sender, in three lines: pushes to subscribed
// children, answers for live chunks, answers for chunks behind the live
// edge (catch-up). Whenever the engine runs (every RPC handled, every
// tick, and every partial RPC pubsub reports written while parts wait:
// the tracer wakes the tick goroutine) release hands pubsub parts, the first line first and the oldest
// first within a line, while pubsub's queues hold less than sendAhead
// (60 ms) of what the uplink writes (at least 32 KiB) and the peer's own
// queue less than a quarter of that (at least 16 KiB): a connection slowed
// by loss holds back only its own parts. A relay's push that waited
// reparentAfter (300 ms) is dropped, since the child has asked elsewhere
// by then (the source's never is: it is its index's only copy); an
// answer that waited half the requestTimeout is dropped and the asker is
// told busy, so it asks elsewhere at once and does not count us as
// withholding (SendExpired counts both). Under 1% loss this took the
// churn scenario from 0.31–0.47 to 0.50–0.59 (docs/PERFORMANCE.md).
// A part whose receiver tells us while it waits that it holds it (its
// parent pushed it, or another peer it asked answered first: the have
// bits each node sends the others it is expecting the part from) goes
// unsent too (SendUnneeded).
//
// A peer that vanishes without closing its connection (power cut, sleep,
// a NAT that forgets it) keeps it open until the transport's idle timeout,
// and pubsub's queue to it fills and never drains. Every rule above reads
// the backlog, so before this its parents said busy to everyone for the
// rest of that time and the source, whose window it filled, stopped
// sending altogether. So the uplink tracker counts a peer stalled once its
// queue has held bytes with none written for stallAfter (1 s: a live
// peer's queue is a window of tens of KiB) and leaves its queue out of the
// backlog, and the engine treats a stalled peer as out of the mesh: its
// subscriptions on us and the parts waiting for it are dropped, and it is
// not pushed to, announced to, asked or seeded until we hear from it or a
// write to it completes. Its queue emptying is not enough: pubsub drops a
// dead peer's queue when it gives up on the stream, and a vanished peer
// came back usable, was seeded and stalled again, twice in a churn run.
// The source also passes a peer that stalled over as
// a seed for badSeedFor (checkStalled; TestUplinkStall, TestStalledPeer,
// e2e's TestVanishingViewers; Stalled counts them).
// The churn scenario went from 0.55 to 0.77–0.80 (docs/PERFORMANCE.md).
//
// The tracer counts an RPC into its peer's backlog when pubsub traces it
// queued (SendRPC) and out when it is written (SendRPCCompleted), matched
// by RPC, not by bytes: pubsub traces SendRPC after the push, and the
// peer's writer goroutine may write the RPC first (on a loaded machine,
// a few times a run). Counted by bytes alone, each such write stayed in
// the backlog for good; two 8 KiB parts filled a peer's 16 KiB window,
// and a source's only viewer got nothing more (TestTCP or
// TestBroadcastJoinPlayEnd failed in about one run of the race set in
// three; TestUplinkWrittenBeforeQueued).
//
// # Peers without partial messages
//
// Pubsub sends whole messages only to peers that did not ask for partial
// ones. Once a second each Channel compares the topic's peers with those
// its engine knows; while any is unknown, legacyLoop republishes whole
// each chunk the engine completes (queue 64, overflow counted as
// LegacyDrops), byte for byte the source's and so under the same message
// ID; the source then publishes each chunk whole too. Pubsub sends it to such
// peers in its mesh, IHAVE to the rest, and answers their IWANT, so a
// plain gossipsub peer behind a relay gets every chunk whole
// (TestLegacyPeer). A chunk arriving whole passes the topic validator,
// pubsub relays it to legacy peers, and the engine serves its parts as its
// own. A partial-message peer not heard from yet counts as unknown.
//
// # Message ID
//
// Whole messages only: channel CID bytes, seq (8 bytes), and the first 16
// bytes of sha2-256(topic, 0, message); 0x00 and the digest if it does not
// parse. Pubsub marks an ID seen before validating, then drops and
// penalises later copies: with (channel, seq) alone, a forged or corrupt
// copy would poison the genuine chunk wherever it came first.
//
// # Validator and live window
//
// Whole chunks pass an inline topic validator, Open and then the live
// window; a head on the partial path passes the window once its group ID,
// signature and seq check. The window rejects a timestamp more than MaxAge
// (60 s) old or ahead (clock skew), and a chunk more than Window (1024)
// seqs behind the highest accepted unless its timestamp is newer than any
// accepted: a restarted broadcaster numbers from 0 again, a replay cannot
// be newer. Message IDs (pubsub) and forgotten group IDs (the engine) are
// remembered for 2×MaxAge+10 s, the span in which a timestamp passes, so a
// replay is a known duplicate or too old. Chunks arriving while their
// channel closes are ignored. A node's own chunks never reach its Next.
//
// # Penalties
//
// A provably bad part, head, group ID or undecodable RPC is rejected and
// counted by reason, ends the handling of the rest of its RPC, counts
// toward the blacklist and goes to gossipsub's scoring as an invalid
// message (P4, by PeerFeedback from the enforce goroutine: it waits for
// the event loop the engine runs on). Stale and future heads are only
// counted: they depend on our clock. Whole chunks the validator rejects
// cost P4 through pubsub. P4 is -20 per count squared against thresholds
// gossip -40, publish -80 and graylist -160: three invalid messages
// graylist a peer, and positive score, capped at +15 (time in mesh up to
// +5, first deliveries of whole chunks up to +10), cannot buy a third.
// After InvalidBeforeBlacklist (3) invalid messages, stale and future ones
// aside, a peer is blacklisted for BlacklistFor (1 h), disconnected, hung
// up on if it reconnects, and logged once with peer, channel and err.
//
// Scoring never sees partial messages, so the engine keeps an account: a
// request left unanswered past the timeout costs a peer a point (once per
// chunk, refunded if the answer comes late), a chunk answered (parts, head
// or busy; an announcement is no answer) earns half a point back, and both
// decay by decayFactor (0.97) a second. Past withholdSlack (2) each point
// is withholdWeight (-5) of app score (P5, floor minAppScore, -100), so
// gossipsub prunes the withholder from its mesh at the next heartbeat;
// past distrustAt (4) it is asked nothing for distrustFor (1 min). P3 is
// off (parts move on request; a mesh peer downstream rarely delivers
// first), P6 too (households and carrier-grade NAT share addresses); P7
// tolerates 10 broken IWANT promises; negative scores last 30 min.
//
// # Gossipsub parameters
//
//   - D=8, Dlo=6, Dhi=12 (Dout 2, Dscore 4): the mesh carries announcements
//     and requests, not copies, so a wide one is cheap and offers more
//     parents (the prototype's 8, DESIGN §5). Flood publishing off.
//   - HistoryGossip 3, HistoryLength 6 at 1 s heartbeats, IHAVE to every
//     non-mesh topic peer (Dlazy 64, GossipFactor 1): the IHAVE/IWANT
//     repair of whole chunks for legacy peers covers the playout delay.
//   - Outbound and validation queues 256, subscription buffer and Next
//     queue QueueLength (256): pubsub's 32 drop silently (DESIGN §5a). Max
//     message size MaxMessageSize(MaxPayload) + 64 KiB; no pubsub signing
//     (StrictNoSign, no author); peer exchange on prune, accepted from any
//     peer not scored negative (a joiner has scored nobody, and PX is how
//     it gets past the full meshes of the first peers it finds);
//     opportunistic grafting below a median of 2.
//
// # Counters
//
// Service.Stats counts chunks accepted (whole or completed from parts),
// rejects by reason, pubsub's refusals, whole-chunk copies, queue drops,
// partial RPCs, bytes queued and the backlog; Channel.Stats the partial
// path (parts, requests, timeouts, re-parentings, busy answers, shedding,
// parents, children, slots, parts expired unsent, stalled peers). A full Next queue drops its oldest chunk: a
// live reader wants the newest.
//
// # Goroutines
//
// The engine has none: it runs on pubsub's event loop, from OnIncomingRPC
// or inside a function handed to PublishPartial (Channel.eval), so it
// needs no lock, and sends through the extension's own PublishPartial
// (pubsub.PublishPartial would wait for the loop it runs on). It hands
// work out through channels it never blocks on. A Service runs enforce
// (blacklists, disconnects, reports invalid parts to scoring) and dialLoop
// (dials introduced peers, dialConcurrency (4) at a time, each for up to
// dialTimeout, 10 s). A Channel runs read (whole chunks to the engine),
// tick (its timers every tick, 20 ms; the topic's peers once a second),
// legacyLoop, and one that marks the Channel done when those end. Pubsub's
// own end with the Service's context. Close on either cancels and waits.
//
// # Measured
//
// TestAmplification (go test -run TestAmplification -v ./gossip): 30 nodes
// on a sparse mocknet graph, 4 Mbit/s in 64 KiB chunks, every chunk
// delivered, 1.00 copies of each part in per subscriber, 1.00 out of the
// publisher (commit f962dd9). TestSimHome on home links, 20–80 ms one way,
// a quarter of 50 viewers on 3 Mbit/s uplinks (GOSSIP_SIM_N=50
// GOSSIP_SIM_DURATION=20s go test -run TestSimHome -v ./gossip): every
// chunk delivered, p50 0.7–0.9 s, p99 1.2–1.6 s, 1.18–1.21 bytes in per
// stream byte, broadcaster 1.37× the stream (commit 763216e, before
// aa336b0 and f962dd9 changed seeds, repairs and joining).
//
// The benchmark suite (scripts/bench.sh; docs/PERFORMANCE.md, commit
// efcb9ed) runs this package under the whole node, joining through the DHT.
// On simulated home links, continuity is 1.000 / 1.000 / 0.958 at N=10 /
// 50 / 200 (0.931–0.988 at N=200 in single runs) and 0.982 under churn
// with 1% loss (0.920–0.994 in single runs since the buffer's delay may
// grow to 4 s, bb3dfc4; 0.31–0.47 before parts waited in the engine,
// 0.50–0.65 before stalled peers left the mesh, 0.77–0.80 before relays
// waited for 300 ms of backlog to say busy). Once the launch storm is
// over, N=50 and N=200 play every chunk; before joiners fetched only the
// newest GOP, the storm cost N=200 0.07–0.12 (0.88–0.93). Viewers take in
// 1.14 / 1.26 / 1.69 bytes per stream byte (1.40 under churn), of which
// this package's metadata and QUIC take 0.11–0.23 and duplicate parts up
// to 0.17. The broadcaster sends 1.13 / 1.29 / 1.61× the stream (1.54×
// under churn): about 1.1× once its trees settle (N=10, and N=50 after
// the launch storm); where they do not (N=200, churn) its own children
// keep asking it for the indices that reach them late down deeper trees,
// and it answers at its cap all run long, 1.45–1.53× per 5 s after the
// storm. On loopback with 20 viewers everything plays, for 1.10 bytes in
// and 39 ms of CPU per node per second of stream (18–26 ms in earlier
// runs).
// Serving catch-up only from spare upload took N=200 from 0.73 to 0.93.
// The gap to the targets of one copy in, continuity 0.999 and 1 s delay
// has measured causes, each explained on that page: loss with churn, the
// first seconds of the launch storm, a path of several hops of about
// 100 ms plus the buffer's 0.5 s before any chunk plays, a buffer that
// keeps the delay it started with, trees that do not settle at N=200,
// metadata and transport bytes that alone use most of the 0.15 allowed
// above one copy, and for startup a joiner's wait for the newest GOP or
// the next keyframe (startup p50 3.0–3.7 s at N=10 to 200 and under
// churn).
package gossip
