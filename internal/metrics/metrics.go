package metrics

import (
	"runtime"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/p2ptv/p2ptvd/node"
)

// Register adds the build-info gauge, the Go runtime and process
// collectors, and the node's metrics to reg. role is "daemon" or
// "bootstrap".
func Register(reg prometheus.Registerer, n *node.Node, version, role string) error {
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "p2ptvd_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version(), "role": role},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{n: n},
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("p2ptvd_"+name, help, labels, nil)
}

var (
	dPeers        = desc("peers", "Connected peers.")
	dLimited      = desc("limited_conns", "Connections over a relay (limited: they never carry the video mesh).")
	dReach        = desc("reachability", "1 for AutoNAT's current verdict.", "state")
	dDHTServer    = desc("dht_server", "1 while the node answers DHT queries.")
	dDHTPeers     = desc("dht_routing_table_peers", "DHT servers in the routing table.")
	dRelayAddrs   = desc("relay_addrs", "Addresses through relays where the node holds a reservation.")
	dPortMapped   = desc("port_mapped_addrs", "External addresses the router forwards to the node (UPnP/NAT-PMP).")
	dPunch        = desc("holepunch_total", "Hole punches (DCUtR) by outcome.", "outcome")
	dBytes        = desc("bytes_total", "Bytes of libp2p streams, all protocols.", "direction")
	dUploadCap    = desc("max_upload_bytes_per_second", "The user's upload cap (0: none).")
	dAccepted     = desc("gossip_accepted_total", "Chunks from the network that passed validation.")
	dRejected     = desc("gossip_rejected_total", "Chunks the validator rejected, by reason.", "reason")
	dDuplicates   = desc("gossip_duplicates_total", "Copies of chunks already seen.")
	dSent         = desc("gossip_sent_total", "Chunk copies queued to peers (relayed, published, IWANT answers).")
	dDroppedRPCs  = desc("gossip_dropped_rpcs_total", "Outbound RPCs dropped: a peer's queue was full.")
	dDroppedChunk = desc("gossip_dropped_chunks_total", "Chunks in dropped outbound RPCs.")
	dSlowReader   = desc("gossip_slow_reader_drops_total", "Chunks dropped because a channel's reader fell behind.")
	dBlacklisted  = desc("gossip_blacklisted_peers", "Peers shut out for invalid chunks.")

	chLabels      = []string{"channel", "role"}
	dChPeers      = desc("channel_peers", "Peers sharing the channel's topic.", chLabels...)
	dChContinuity = desc("channel_continuity", "Chunks played on time / chunks due (0 until one is due).", chLabels...)
	dChDelay      = desc("channel_delay_seconds", "How far playout runs behind the source.", chLabels...)
	dChStartup    = desc("channel_startup_seconds", "From the first chunk to the first played.", chLabels...)
	dChLevel      = desc("channel_buffer_chunks", "Chunks held for playout.", chLabels...)
	dChLevelBytes = desc("channel_buffer_bytes", "Bytes held for playout.", chLabels...)
	dChReleased   = desc("channel_chunks_played_total", "Chunks released to players.", chLabels...)
	dChMissed     = desc("channel_chunks_skipped_total", "Chunks skipped: they missed their deadline.", chLabels...)
	dChLate       = desc("channel_chunks_late_total", "Chunks that arrived after their slot.", chLabels...)
	dChStalls     = desc("channel_stalls_total", "Times playout paused for a late chunk.", chLabels...)
	dChReceived   = desc("channel_chunks_received_total", "Validated chunks from the mesh.", chLabels...)
	dChPublished  = desc("channel_chunks_published_total", "Chunks this node published.", chLabels...)
	dChRejected   = desc("channel_chunks_rejected_total", "Chunks rejected on this channel.", "channel", "role", "reason")
	dChDrops      = desc("channel_chunks_dropped_total", "Chunks dropped by a slow reader.", "channel", "role", "where")
	dChReaders    = desc("channel_players", "Players reading the channel.", chLabels...)
	dChPartsIn    = desc("channel_parts_received_total", "Chunk parts received, verified and new.", chLabels...)
	dChPartsOut   = desc("channel_parts_sent_total", "Chunk parts sent to other viewers.", chLabels...)
	dChSlots      = desc("channel_upload_slots", "Part subscriptions the upload budget affords.", chLabels...)
	dChChildren   = desc("channel_children", "Peers this node pushes parts to.", chLabels...)
)

type collector struct{ n *node.Node }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		dPeers, dLimited, dReach, dDHTServer, dDHTPeers, dRelayAddrs, dPortMapped, dPunch, dBytes, dUploadCap,
		dAccepted, dRejected, dDuplicates, dSent, dDroppedRPCs, dDroppedChunk, dSlowReader, dBlacklisted,
		dChPeers, dChContinuity, dChDelay, dChStartup, dChLevel, dChLevelBytes, dChReleased, dChMissed,
		dChLate, dChStalls, dChReceived, dChPublished, dChRejected, dChDrops, dChReaders,
		dChPartsIn, dChPartsOut, dChSlots, dChChildren,
	} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge(ch, dPeers, float64(len(n.Host().Network().Peers())))
	r := n.Reach()
	gauge(ch, dLimited, float64(r.LimitedConns))
	for _, s := range []string{"unknown", "public", "private"} {
		gauge(ch, dReach, b2f(r.Reachability == s), s)
	}
	gauge(ch, dDHTServer, b2f(r.DHTServer))
	gauge(ch, dDHTPeers, float64(n.DHTPeers()))
	gauge(ch, dRelayAddrs, float64(len(r.Relay.Addrs)))
	gauge(ch, dPortMapped, float64(len(r.PortMapping.Mapped)))
	counter(ch, dPunch, r.HolePunch.Successes, "success")
	counter(ch, dPunch, r.HolePunch.Failures, "failure")
	counter(ch, dPunch, r.HolePunch.DirectDials, "direct")
	bw := n.Bandwidth()
	counter(ch, dBytes, uint64(bw.TotalIn), "in")
	counter(ch, dBytes, uint64(bw.TotalOut), "out")
	gauge(ch, dUploadCap, float64(n.Limits().MaxUpload)/8)

	g := n.GossipStats()
	counter(ch, dAccepted, g.Accepted)
	for _, reason := range sortedKeys(g.Rejected) {
		counter(ch, dRejected, g.Rejected[reason], reason)
	}
	counter(ch, dDuplicates, g.Duplicates)
	counter(ch, dSent, g.Sent)
	counter(ch, dDroppedRPCs, g.DroppedRPCs)
	counter(ch, dDroppedChunk, g.DroppedChunks)
	counter(ch, dSlowReader, g.SlowReaderDrops)
	gauge(ch, dBlacklisted, float64(g.Blacklisted))

	for _, cc := range n.Channels() {
		s := cc.Stats()
		l := []string{cc.ID().String(), string(s.Role)}
		b := s.Buffer
		gauge(ch, dChPeers, float64(s.Peers), l...)
		gauge(ch, dChContinuity, b.Continuity, l...)
		gauge(ch, dChDelay, b.Delay.Seconds(), l...)
		gauge(ch, dChStartup, b.StartupTime.Seconds(), l...)
		gauge(ch, dChLevel, float64(b.Pending), l...)
		gauge(ch, dChLevelBytes, float64(b.PendingBytes), l...)
		gauge(ch, dChReaders, float64(b.Readers), l...)
		counter(ch, dChReleased, b.Released, l...)
		counter(ch, dChMissed, b.Missed, l...)
		counter(ch, dChLate, b.Late, l...)
		counter(ch, dChStalls, b.Stalls, l...)
		counter(ch, dChReceived, s.Gossip.Received, l...)
		counter(ch, dChPartsIn, s.Gossip.PartsReceived, l...)
		counter(ch, dChPartsOut, s.Gossip.PartsSent, l...)
		gauge(ch, dChSlots, float64(s.Gossip.Slots), l...)
		gauge(ch, dChChildren, float64(s.Gossip.Children), l...)
		counter(ch, dChPublished, s.Gossip.Published, l...)
		for _, reason := range sortedKeys(s.Gossip.Rejected) {
			counter(ch, dChRejected, s.Gossip.Rejected[reason], l[0], l[1], reason)
		}
		counter(ch, dChDrops, s.Gossip.SubscriptionDrops, l[0], l[1], "subscription")
		counter(ch, dChDrops, s.Gossip.SlowReaderDrops-min(s.Gossip.SlowReaderDrops, s.Gossip.SubscriptionDrops), l[0], l[1], "reader")
	}
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
