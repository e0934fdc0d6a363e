package prober

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// ICMPEngine sends the echo requests of all probes through one socket per
// address family, and one goroutine per socket hands each reply to the probe
// waiting for it. A socket per probe (pro-bing's design) costs a socket, a
// goroutine and timers per probe, and with raw sockets every socket sees
// every reply of the host; here the cost grows with probes sent only.
//
// Probe is a ProbeFunc. Close the engine when done.
type ICMPEngine struct {
	cfg   ICMPConfig
	id    uint16 // echo identifier of this engine, fixed for its life
	key   uint64 // random base of the tokens: another process's replies never match
	token atomic.Uint64
	demux *icmpDemux
	pool  sync.Pool

	v4 *icmpSocket

	mu     sync.Mutex // guards v6, v6err and closed
	v6     *icmpSocket
	v6err  error
	closed bool
	recv   sync.WaitGroup
}

// NewICMPEngine opens the IPv4 socket at once, so that a missing privilege
// is an error at start; the IPv6 one is opened on the first IPv6 probe, so
// that hosts without IPv6 work.
func NewICMPEngine(cfg ICMPConfig) (*ICMPEngine, error) {
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	e := &ICMPEngine{
		cfg:   cfg,
		id:    binary.BigEndian.Uint16(r[0:2]),
		key:   binary.BigEndian.Uint64(r[2:10]),
		demux: newICMPDemux(),
	}
	e.pool.New = func() any { return newICMPWaiter() }
	s, err := e.open(false)
	if err != nil {
		return nil, err
	}
	e.v4 = s
	return e, nil
}

func (e *ICMPEngine) open(v6 bool) (*icmpSocket, error) {
	s, err := openICMPSocket(v6, e.cfg.Privileged, e.cfg.DontFragment, e.id, e.demux)
	if err != nil {
		return nil, err
	}
	e.recv.Add(1)
	go func() {
		defer e.recv.Done()
		s.receive()
	}()
	return s, nil
}

func (e *ICMPEngine) socketFor(ip netip.Addr) (*icmpSocket, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errICMPClosed
	}
	if ip.Is4() {
		return e.v4, nil
	}
	if e.v6 == nil && e.v6err == nil {
		e.v6, e.v6err = e.open(true)
	}
	return e.v6, e.v6err
}

// Probe sends one echo request to ip and waits for its reply until ctx's
// deadline. It is a ProbeFunc.
func (e *ICMPEngine) Probe(ctx context.Context, ip netip.Addr) Outcome {
	return e.probe(ctx, ip, 0, 0)
}

// ProbeSize sends one echo request whose IP packet is size bytes (header
// included) and waits for its reply. With ICMPConfig.DontFragment, a size
// over the interface's MTU or the path MTU the kernel has learned fails at
// once with an error that wraps syscall.EMSGSIZE.
func (e *ICMPEngine) ProbeSize(ctx context.Context, ip netip.Addr, size int) Outcome {
	return e.probe(ctx, ip, size, 0)
}

func (e *ICMPEngine) probe(ctx context.Context, ip netip.Addr, size int, label uint32) Outcome {
	w, failed := e.send(ctx, ip, size, label)
	if w == nil {
		return failed
	}
	return e.wait(ctx, w)
}

// ProbeSmallAndSize sends a small echo request and one whose IP packet is
// size bytes back to back, and waits for both replies: a path's small and
// full-size verdicts of an interval. The replies come back together and
// are read in one wake-up of the process, where an echo sent after the
// other's reply costs a wake-up of its own, more than the echo (see
// BENCHMARKS.md, "Full-size probes on the small probe's connection and
// wake-up"). Both echoes carry IPv6 flow label label (as ProbeFlow; 0:
// none, and ignored for IPv4), so that both cross the same member of an
// equal-cost group: the small reply is the full-size one's control (a
// lost full-size echo is an MTU fault only where the small one of the
// same path came back), and a control that crossed another member would
// make a member that drops everything look like an MTU black hole.
func (e *ICMPEngine) ProbeSmallAndSize(ctx context.Context, ip netip.Addr, size int, label uint32) (small, full Outcome) {
	if label > maxFlowLabel {
		failed := Outcome{Result: ResultError, Err: fmt.Errorf("%w: flow label %#x over %#x", ErrFlowSetup, label, maxFlowLabel)}
		return failed, failed
	}
	ws, small := e.send(ctx, ip, 0, label)
	wf, full := e.send(ctx, ip, size, label)
	if ws != nil {
		small = e.wait(ctx, ws)
	}
	if wf != nil {
		full = e.wait(ctx, wf)
	}
	return small, full
}

// send sends one echo request of size bytes (0: small) to ip for wait;
// a nil waiter and the failed probe's outcome if it could not be sent.
func (e *ICMPEngine) send(ctx context.Context, ip netip.Addr, size int, label uint32) (*icmpWaiter, Outcome) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, Outcome{Result: ResultError, Err: errICMPNoDeadline}
	}
	if !ip.IsValid() {
		return nil, Outcome{Result: ResultError, Err: errICMPNoAddress}
	}
	ip = ip.Unmap()
	s, err := e.socketFor(ip)
	if err != nil {
		return nil, Outcome{Result: ResultError, Err: err}
	}
	w := e.pool.Get().(*icmpWaiter)
	w.out = w.pkt[:]
	if n := icmpMessageLen(size, ip.Is6()); n > icmpPacketLen {
		if cap(w.big) < n {
			w.big = make([]byte, n)
		}
		w.out = w.big[:n]
	}
	if !e.demux.register(w, e.key+e.token.Add(1), ip.WithZone("")) {
		e.pool.Put(w)
		return nil, Outcome{Result: ResultError, Err: errICMPBusy}
	}
	if err := s.send(w, ip, label); err != nil {
		rtt, ok := e.demux.cancel(w)
		e.pool.Put(w) // out of the table, and w.ch is empty
		if ok {
			return nil, Outcome{Result: ResultSuccess, RTT: rtt} // cannot happen, but never lose a reply
		}
		return nil, Outcome{Result: ResultError, Err: err}
	}
	return w, Outcome{}
}

// wait waits for the reply to w until ctx's deadline, and gives w back.
func (e *ICMPEngine) wait(ctx context.Context, w *icmpWaiter) Outcome {
	defer e.pool.Put(w) // only once w is out of the table and w.ch is empty
	select {
	case rtt := <-w.ch:
		return Outcome{Result: ResultSuccess, RTT: rtt}
	case <-ctx.Done():
		if rtt, ok := e.demux.cancel(w); ok {
			return Outcome{Result: ResultSuccess, RTT: rtt} // the reply won the race with the deadline
		}
		return Outcome{Result: ResultTimeout, Err: errICMPNoReply}
	}
}

// Close closes the sockets and waits for their receive goroutines. Probes
// still waiting end by their deadline; later probes fail.
func (e *ICMPEngine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	err := e.v4.close()
	if e.v6 != nil {
		if err6 := e.v6.close(); err == nil {
			err = err6
		}
	}
	e.mu.Unlock()
	e.recv.Wait()
	return err
}

// icmpMessageLen is the ICMP message length that makes an IP packet of size
// bytes (without IP options); 0 for the small probe.
func icmpMessageLen(size int, v6 bool) int {
	hdr := 20
	if v6 {
		hdr = 40
	}
	if size <= hdr+icmpPacketLen {
		return 0
	}
	return min(size, maxIPPacket) - hdr
}

// maxIPPacket is the largest IPv4 packet, and the largest IPv6 packet
// without a jumbogram: full-size probes of a loopback route (MTU 65536)
// are this big.
const maxIPPacket = 65535
