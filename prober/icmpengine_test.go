package prober

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

var (
	peerA = netip.MustParseAddr("198.18.0.1")
	peerB = netip.MustParseAddr("198.18.0.2")
)

// icmpStats counts the replies the engine's demultiplexer saw.
type icmpStats struct {
	Matched, Stale, WrongSource, KernelTimestamps uint64
}

func (e *ICMPEngine) stats() icmpStats {
	return icmpStats{
		Matched:          e.demux.matched.Load(),
		Stale:            e.demux.stale.Load(),
		WrongSource:      e.demux.wrongSource.Load(),
		KernelTimestamps: e.demux.kernelTS.Load(),
	}
}

// received reports the RTT handed to w, if any, without waiting.
func received(w *icmpWaiter) (time.Duration, bool) {
	select {
	case rtt := <-w.ch:
		return rtt, true
	default:
		return 0, false
	}
}

func TestDemuxMatchesSequenceTokenAndSource(t *testing.T) {
	d := newICMPDemux()
	w := newICMPWaiter()
	if !d.register(w, 42, peerA) {
		t.Fatal("register failed")
	}
	w.sentMono.Store(1000)
	w.sentWall.Store(5000)

	d.deliver(peerA, w.seq+1, 42, 0, 2000) // another sequence number
	d.deliver(peerA, w.seq, 43, 0, 2000)   // another token: a stale or foreign reply
	d.deliver(peerB, w.seq, 42, 0, 2000)   // the right reply from the wrong address
	if _, ok := received(w); ok {
		t.Fatal("a reply that does not match was delivered")
	}
	if d.stale.Load() != 2 || d.wrongSource.Load() != 1 {
		t.Fatalf("stale %d, wrong source %d; want 2 and 1", d.stale.Load(), d.wrongSource.Load())
	}
	d.deliver(peerA, w.seq, 42, 5300, 2500)
	rtt, ok := received(w)
	if !ok || rtt != 300 {
		t.Fatalf("got %v %v, want the kernel-timed RTT 300ns", rtt, ok)
	}
	// A duplicate reply finds the slot empty.
	d.deliver(peerA, w.seq, 42, 5300, 2500)
	if _, ok := received(w); ok || d.stale.Load() != 3 {
		t.Fatal("a duplicate reply was delivered")
	}
}

func TestDemuxLateReplyAfterTimeoutIsIgnored(t *testing.T) {
	d := newICMPDemux()
	w := newICMPWaiter()
	d.register(w, 7, peerA)
	seq := w.seq
	if _, ok := d.cancel(w); ok {
		t.Fatal("cancel found a reply that never came")
	}
	d.deliver(peerA, seq, 7, 0, 10) // the late reply
	if _, ok := received(w); ok {
		t.Fatal("a reply after the timeout was delivered")
	}
	// The sequence number is free again, but a new probe using it has a new
	// token: the late reply of the old probe does not match it either.
	w2 := newICMPWaiter()
	for d.register(w2, 8, peerA); w2.seq != seq; d.register(w2, 8, peerA) {
		d.cancel(w2)
	}
	d.deliver(peerA, seq, 7, 0, 10)
	if _, ok := received(w2); ok {
		t.Fatal("a late reply matched the next probe with the same sequence number")
	}
}

func TestDemuxCancelAfterDeliveryReturnsTheReply(t *testing.T) {
	d := newICMPDemux()
	w := newICMPWaiter()
	d.register(w, 1, peerA)
	d.deliver(peerA, w.seq, 1, 0, 50)
	// The deadline fires just as the reply arrives: the reply wins and the
	// channel is left empty for the waiter's next use.
	if rtt, ok := d.cancel(w); !ok || rtt != 50 {
		t.Fatalf("cancel = %v %v, want the delivered RTT", rtt, ok)
	}
	if _, ok := received(w); ok {
		t.Fatal("the channel was not drained")
	}
}

func TestDemuxSequenceNumbersWrapAndSkipBusyOnes(t *testing.T) {
	d := newICMPDemux()
	long := newICMPWaiter()
	d.register(long, 1, peerA) // still waiting when the counter comes round
	seen := map[uint16]bool{}
	w := newICMPWaiter()
	for i := 0; i < 1<<16+10; i++ {
		if !d.register(w, uint64(i)+2, peerB) {
			t.Fatal("register failed with free slots")
		}
		if w.seq == long.seq {
			t.Fatalf("sequence %d handed out twice", w.seq)
		}
		seen[w.seq] = true
		d.cancel(w)
	}
	if len(seen) != 1<<16-1 {
		t.Fatalf("%d sequence numbers used, want all but the busy one", len(seen))
	}
}

func TestDemuxFullTable(t *testing.T) {
	d := newICMPDemux()
	for i := 0; i < 1<<16; i++ {
		if !d.register(newICMPWaiter(), uint64(i), peerA) {
			t.Fatalf("register %d failed", i)
		}
	}
	if d.register(newICMPWaiter(), 0, peerA) {
		t.Fatal("register succeeded with every sequence number taken")
	}
}

func TestDemuxConcurrentProbes(t *testing.T) {
	d := newICMPDemux()
	const probers, rounds = 16, 500
	var wg, replies sync.WaitGroup
	for p := range probers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newICMPWaiter()
			addr := netip.AddrFrom4([4]byte{198, 18, 1, byte(p)})
			for r := range rounds {
				token := uint64(p)<<32 | uint64(r)
				d.register(w, token, addr)
				w.sentMono.Store(d.monoNow())
				seq, replied := w.seq, r%2 == 0
				if replied { // the reply races the deadline below
					replies.Add(1)
					go func() { defer replies.Done(); d.deliver(addr, seq, token, 0, d.monoNow()+1) }()
				}
				if r%3 == 0 { // the deadline comes at once
					if _, ok := d.cancel(w); ok && !replied {
						t.Error("cancel returned a reply that was never sent")
					}
					continue
				}
				if !replied {
					d.cancel(w)
					continue
				}
				select {
				case <-w.ch:
				case <-time.After(10 * time.Second):
					t.Error("reply lost")
					return
				}
			}
		}()
	}
	wg.Wait()
	replies.Wait()
	// A reply that came after its probe's deadline counts as stale.
	if got := d.matched.Load() + d.stale.Load(); got != probers*rounds/2 {
		t.Fatalf("%d replies accounted for, want %d", got, probers*rounds/2)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used != 0 {
		t.Fatalf("%d slots left in use", d.used)
	}
}

func TestRTTPrefersTheKernelTimestamp(t *testing.T) {
	tests := []struct {
		name                                    string
		sentWall, sentMono, kernelWall, nowMono int64
		want                                    time.Duration
		kernel                                  bool
	}{
		{"kernel", 1000, 10, 1040, 100, 40, true},
		{"no kernel timestamp", 1000, 10, 0, 100, 90, false},
		{"wall clock stepped back", 1000, 10, 900, 100, 90, false},
		{"wall clock jumped ahead", 1000, 10, 9000, 100, 90, false},
		{"never zero", 1000, 10, 0, 10, 1, false},
	}
	for _, tc := range tests {
		rtt, kernel := rttOf(tc.sentWall, tc.sentMono, tc.kernelWall, tc.nowMono)
		if rtt != tc.want || kernel != tc.kernel {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, rtt, kernel, tc.want, tc.kernel)
		}
	}
}

func echoReply(v6 bool, id, seq uint16, token uint64) []byte {
	var p [icmpPacketLen]byte
	buildEchoRequest(&p, v6, id, seq, token)
	p[0] = icmpv4EchoReply
	if v6 {
		p[0] = icmpv6EchoReply
	}
	return p[:]
}

func TestParseEchoReply(t *testing.T) {
	good := echoReply(false, 0x1234, 9, 77)
	if seq, tok, ok := parseEchoReply(good, false, 0x1234, true); !ok || seq != 9 || tok != 77 {
		t.Fatalf("good reply: %d %d %v", seq, tok, ok)
	}
	if _, _, ok := parseEchoReply(good, false, 0x4321, true); ok {
		t.Error("another process's identifier accepted on a raw socket")
	}
	if _, _, ok := parseEchoReply(good, false, 0x4321, false); !ok {
		t.Error("datagram sockets: the kernel owns the identifier, it must not be checked")
	}
	req := append([]byte(nil), good...)
	req[0] = icmpv4EchoRequest // our own request, seen on a raw socket when probing this host
	if _, _, ok := parseEchoReply(req, false, 0x1234, true); ok {
		t.Error("an echo request accepted as a reply")
	}
	if _, _, ok := parseEchoReply(good[:12], false, 0x1234, true); ok {
		t.Error("a truncated reply accepted")
	}
	if _, _, ok := parseEchoReply(good, true, 0x1234, true); ok {
		t.Error("an ICMPv4 reply accepted on an IPv6 socket")
	}
	if _, _, ok := parseEchoReply(echoReply(true, 1, 2, 3), true, 1, true); !ok {
		t.Error("ICMPv6 reply rejected")
	}
	// Raw IPv4 sockets hand over the IP header, options included.
	ip := make([]byte, 24)
	ip[0] = 0x46 // version 4, 24-byte header
	msg, ok := stripIPv4Header(append(ip, good...))
	if !ok || binary.BigEndian.Uint16(msg[6:8]) != 9 {
		t.Fatal("IPv4 header with options not stripped")
	}
	if _, ok := stripIPv4Header([]byte{0x45, 0}); ok {
		t.Error("a truncated IPv4 header accepted")
	}
}

func TestEchoRequestChecksum(t *testing.T) {
	var p [icmpPacketLen]byte
	buildEchoRequest(&p, false, 0xbeef, 0xffff, 0x0102030405060708)
	if icmpChecksum(p[:]) != 0 {
		t.Fatal("a packet with its checksum in place must sum to 0")
	}
}

func isRoot() bool { return os.Geteuid() == 0 }

func TestICMPEngineLoopback(t *testing.T) {
	testbin.NeedRoot(t, "raw ICMP sockets")
	e, err := NewICMPEngine(ICMPConfig{Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, addr := range []string{"127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1", "::1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		o := e.Probe(ctx, netip.MustParseAddr(addr))
		cancel()
		if o.Result != ResultSuccess || o.RTT <= 0 || o.Err != nil {
			if addr == "::1" && o.Result == ResultError {
				t.Logf("no IPv6 here: %v", o.Err)
				continue
			}
			t.Fatalf("ping %s: %+v", addr, o)
		}
	}
	if s := e.stats(); s.KernelTimestamps == 0 {
		t.Errorf("no reply was timed by the kernel: %+v", s)
	}
}

func TestICMPEngineConcurrentProbes(t *testing.T) {
	testbin.NeedRoot(t, "raw ICMP sockets")
	e, err := NewICMPEngine(ICMPConfig{Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Every 127.0.0.0/8 address answers for itself: each probe must get the
	// reply from the address it probed.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
			for range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				o := e.Probe(ctx, addr)
				cancel()
				if o.Result != ResultSuccess {
					errs <- errors.New(addr.String() + ": " + string(o.Result))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The receiver counts a match just after handing the reply over, so
	// the last count may trail the last probe's return by a moment.
	deadline := time.Now().Add(5 * time.Second)
	s := e.stats()
	for s.Matched < 64*20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		s = e.stats()
	}
	if s.Matched != 64*20 || s.WrongSource != 0 {
		t.Errorf("stats %+v, want %d matched and none from a wrong source", s, 64*20)
	}
}

func TestICMPEngineTwoEnginesDoNotStealReplies(t *testing.T) {
	testbin.NeedRoot(t, "raw ICMP sockets")
	a, err := NewICMPEngine(ICMPConfig{Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewICMPEngine(ICMPConfig{Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for range 10 {
		if o := a.Probe(ctx, netip.MustParseAddr("127.0.0.1")); o.Result != ResultSuccess {
			t.Fatalf("%+v", o)
		}
	}
	// b's socket never even sees a's replies: the kernel filters them.
	if s := b.stats(); s.Stale != 0 || s.Matched != 0 {
		t.Fatalf("the other engine saw replies: %+v", s)
	}
}

func TestICMPEngineUnprivileged(t *testing.T) {
	e, err := NewICMPEngine(ICMPConfig{Privileged: false})
	if err != nil {
		// This namespace's net.ipv4.ping_group_range forbids them (the
		// kernel's default does): open one in a lab namespace that allows
		// every group.
		t.Logf("unprivileged ICMP sockets not allowed here (%v): trying in a lab namespace", err)
		lab := testbin.NewLab(t)
		const ns = "cxt-prb-ping"
		lab.Netns(ns)
		lab.Sysctl(ns, "net.ipv4.ping_group_range=0 2147483647")
		if err := testbin.InNetns(ns, func() (err error) {
			e, err = NewICMPEngine(ICMPConfig{Privileged: false})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if o := e.Probe(ctx, netip.MustParseAddr("127.0.0.1")); o.Result != ResultSuccess {
		t.Fatalf("%+v", o)
	}
}

func TestICMPEngineClosed(t *testing.T) {
	testbin.NeedRoot(t, "raw ICMP sockets")
	e, err := NewICMPEngine(ICMPConfig{Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Close() // twice is fine
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if o := e.Probe(ctx, netip.MustParseAddr("127.0.0.1")); o.Result != ResultError || !errors.Is(o.Err, errICMPClosed) {
		t.Fatalf("%+v", o)
	}
}

func TestICMPEngineInvalidAddress(t *testing.T) {
	e := &ICMPEngine{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if o := e.Probe(ctx, netip.Addr{}); o.Result != ResultError || !errors.Is(o.Err, errICMPNoAddress) {
		t.Fatalf("%+v", o)
	}
}

func TestICMPEngineNeedsADeadline(t *testing.T) {
	e := &ICMPEngine{} // the check comes before any socket is used
	if o := e.Probe(context.Background(), peerA); o.Result != ResultError || !errors.Is(o.Err, errICMPNoDeadline) {
		t.Fatalf("%+v", o)
	}
}
