package media

import "github.com/p2ptv/p2ptvd"

// MarkDiscontinuity returns a copy of a chunk payload with the
// discontinuity_indicator set in the adaptation field of the first packet
// of each PID, where that packet already has an adaptation field with a
// flags byte. Packets are never grown, so a PID whose first packet has no
// adaptation field stays unmarked (PAT and PMT packets usually; players
// reread those anyway). The node calls it on the first chunk a reader gets
// after a gap, so that players reset their continuity and clock checks
// instead of reporting errors. Bytes that are not whole sync-aligned
// packets are copied unchanged.
func MarkDiscontinuity(payload []byte) []byte {
	out := append([]byte(nil), payload...)
	var seen [8192 / 64]uint64
	for off := 0; off+p2ptvd.PacketSize <= len(out); off += p2ptvd.PacketSize {
		p := Packet(out[off : off+p2ptvd.PacketSize])
		if p[0] != syncByte {
			continue
		}
		pid := p.PID()
		if seen[pid/64]&(1<<(pid%64)) != 0 {
			continue
		}
		seen[pid/64] |= 1 << (pid % 64)
		if p.hasAF() {
			p[5] |= 0x80
		}
	}
	return out
}
