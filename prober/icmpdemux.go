package prober

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the ICMP engine. They are values, not built per probe, so that a
// failing probe allocates nothing either.
var (
	errICMPNoDeadline = errors.New("icmp probe needs a deadline")
	errICMPNoReply    = errors.New("no echo reply before the timeout")
	errICMPBusy       = errors.New("too many icmp probes in flight: every sequence number is taken")
	errICMPClosed     = errors.New("icmp engine closed")
	errICMPNoAddress  = errors.New("icmp probe of an invalid address")
)

const (
	// icmpTokenLen is the echo payload: a per-probe token that the reply
	// must carry back, so that a late reply to an earlier use of the same
	// sequence number (after the 16-bit counter wrapped) never matches.
	icmpTokenLen  = 8
	icmpHeaderLen = 8
	icmpPacketLen = icmpHeaderLen + icmpTokenLen

	icmpv4EchoRequest = 8
	icmpv4EchoReply   = 0
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// icmpWaiter is one probe waiting for its reply. Waiters are pooled: nothing
// here is allocated per probe.
type icmpWaiter struct {
	seq   uint16
	token uint64
	addr  netip.Addr
	// sentWall and sentMono are set just before the echo leaves. They are
	// atomics because the receive goroutine reads them after a reply that
	// the race detector cannot see as synchronised with the send.
	sentWall atomic.Int64 // Unix ns, compared with the kernel's receive timestamp
	sentMono atomic.Int64 // ns since the engine started, the fallback clock
	// ch gets the RTT when the reply arrives; one value per registration at
	// most, so a buffer of one never blocks the receiver.
	ch chan time.Duration

	pkt [icmpPacketLen]byte
	// big is the echo request of a full-size probe, grown to the largest
	// size asked of this waiter; out is what the next send writes (pkt or
	// a prefix of big).
	big []byte
	out []byte
	// platform-specific send state (socket, address, write callback)
	sys icmpWaiterSys
}

// icmpDemux hands replies to the probes waiting for them, by sequence number,
// then token and source address.
type icmpDemux struct {
	start time.Time // the monotonic origin of sentMono

	mu    sync.Mutex
	next  uint16
	used  int
	slots [1 << 16]*icmpWaiter

	// Counters of replies that matched nothing; for tests and debugging.
	stale       atomic.Uint64 // no probe waits for this sequence number and token (late, duplicate or foreign)
	wrongSource atomic.Uint64 // the right sequence and token from an address other than the probed one
	matched     atomic.Uint64
	kernelTS    atomic.Uint64 // matched replies timed by the kernel's receive timestamp
}

func newICMPDemux() *icmpDemux { return &icmpDemux{start: time.Now()} }

// monoNow is the time since the demultiplexer started, on the monotonic clock.
func (d *icmpDemux) monoNow() int64 { return int64(time.Since(d.start)) }

// register gives w a free sequence number. Sequence numbers are handed out
// in order and wrap; one still waited for is skipped, so wrapping can never
// hand two probes the same number.
func (d *icmpDemux) register(w *icmpWaiter, token uint64, addr netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used == len(d.slots) {
		return false
	}
	for d.slots[d.next] != nil {
		d.next++
	}
	w.seq, w.token, w.addr = d.next, token, addr
	d.slots[d.next] = w
	d.next++
	d.used++
	return true
}

// cancel takes w out of the table after its deadline. If a reply took it out
// first, its RTT is already in w.ch and is returned, leaving w.ch empty for
// the waiter's next use.
func (d *icmpDemux) cancel(w *icmpWaiter) (time.Duration, bool) {
	d.mu.Lock()
	if d.slots[w.seq] == w {
		d.slots[w.seq] = nil
		d.used--
		d.mu.Unlock()
		return 0, false
	}
	d.mu.Unlock()
	return <-w.ch, true // sent under the lock that took w out: already there
}

// deliver matches one echo reply. kernelWall is the kernel's receive
// timestamp in Unix ns (0 if there is none); nowMono is monoNow() when the
// reply was read.
func (d *icmpDemux) deliver(src netip.Addr, seq uint16, token uint64, kernelWall, nowMono int64) {
	d.mu.Lock()
	w := d.slots[seq]
	if w == nil || w.token != token {
		d.mu.Unlock()
		d.stale.Add(1)
		return
	}
	if w.addr != src {
		// Someone else answered for the probed address (a NAT, a proxy, a
		// misrouted peer): that does not show the address is reachable.
		d.mu.Unlock()
		d.wrongSource.Add(1)
		return
	}
	d.slots[seq] = nil
	d.used--
	rtt, kernel := rttOf(w.sentWall.Load(), w.sentMono.Load(), kernelWall, nowMono)
	w.ch <- rtt
	d.mu.Unlock()
	d.matched.Add(1)
	if kernel {
		d.kernelTS.Add(1)
	}
}

// rttOf prefers the kernel's receive timestamp, which leaves out the time the
// reply waited for this process to be scheduled; it falls back to the
// monotonic clock when there is none or the wall clock jumped in between.
func rttOf(sentWall, sentMono, kernelWall, nowMono int64) (rtt time.Duration, kernel bool) {
	mono := nowMono - sentMono
	if kernelWall != 0 {
		if k := kernelWall - sentWall; k > 0 && k <= mono {
			return time.Duration(k), true
		}
	}
	if mono <= 0 {
		mono = 1 // an RTT of 0 would read as "no RTT"
	}
	return time.Duration(mono), false
}

// parseEchoReply reads the sequence number and token of an echo reply (msg
// starts at the ICMP header). id is checked unless checkID is false, as for
// datagram sockets, where the kernel owns the identifier and only hands this
// socket its own replies.
func parseEchoReply(msg []byte, v6 bool, id uint16, checkID bool) (seq uint16, token uint64, ok bool) {
	if len(msg) < icmpPacketLen {
		return 0, 0, false
	}
	want := byte(icmpv4EchoReply)
	if v6 {
		want = icmpv6EchoReply
	}
	if msg[0] != want || msg[1] != 0 {
		return 0, 0, false
	}
	if checkID && binary.BigEndian.Uint16(msg[4:6]) != id {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(msg[6:8]), binary.BigEndian.Uint64(msg[8:16]), true
}

// stripIPv4Header returns the ICMP message of a packet read from a raw IPv4
// socket, which hands over the IP header too.
func stripIPv4Header(pkt []byte) ([]byte, bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return nil, false
	}
	hl := int(pkt[0]&0x0f) * 4
	if hl < 20 || len(pkt) < hl {
		return nil, false
	}
	return pkt[hl:], true
}

// buildEchoRequest writes an echo request into pkt. The IPv4 checksum is
// ours to compute; for ICMPv6 the kernel computes it (it covers a
// pseudo-header with the source address, which only the kernel knows).
func buildEchoRequest(pkt *[icmpPacketLen]byte, v6 bool, id, seq uint16, token uint64) {
	buildEchoRequestOf(pkt[:], v6, id, seq, token)
}

// buildEchoRequestOf writes an echo request of len(pkt) bytes (at least
// icmpPacketLen): the header and token, then the padding of a full-size
// probe, which is left as it is (zeros once the buffer is made).
func buildEchoRequestOf(pkt []byte, v6 bool, id, seq uint16, token uint64) {
	typ := byte(icmpv4EchoRequest)
	if v6 {
		typ = icmpv6EchoRequest
	}
	pkt[0], pkt[1], pkt[2], pkt[3] = typ, 0, 0, 0
	binary.BigEndian.PutUint16(pkt[4:6], id)
	binary.BigEndian.PutUint16(pkt[6:8], seq)
	binary.BigEndian.PutUint64(pkt[8:16], token)
	if !v6 {
		binary.BigEndian.PutUint16(pkt[2:4], icmpChecksum(pkt))
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
