package ecmp_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// labels are the flow labels the label rows try.
func labels() []uint32 {
	out := make([]uint32, values)
	for v := range out {
		out[v] = 0x1000 + 0x2345*uint32(v)
	}
	return out
}

// tcpLabelSpread connects from one source port with a new flow label each
// time (prober.Flow), each label twice, and reports where they went.
func tcpLabelSpread(t *testing.T, lab *testbin.ECMPLab) spread {
	t.Helper()
	if err := lab.Reset(); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(testbin.ECMPServer6, 80)
	for range 2 {
		for _, l := range labels() {
			if err := lab.In(lab.Client, func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				c, err := prober.Flow{SourcePort: 45000, FlowLabel: l}.Dial(ctx, dst)
				if err != nil {
					return err
				}
				return c.Close() // a reset: Flow.Dial's sockets linger 0
			}); err != nil {
				t.Fatalf("flow label %#x: %v", l, err)
			}
		}
	}
	return seen(t, lab, testbin.SeenFlowLabel, values)
}

// icmpLabelSpread sends ICMPv6 echoes (one identifier and sequence) with a
// leased flow label each, from a raw socket, each label twice.
func icmpLabelSpread(t *testing.T, lab *testbin.ECMPLab) spread {
	t.Helper()
	if err := lab.Reset(); err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := lab.In(lab.Client, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, 33 /* IPV6_FLOWINFO_SEND */, 1); err != nil {
		t.Fatal(err)
	}
	dst := testbin.ECMPServer6.As16()
	for _, l := range labels() {
		// struct in6_flowlabel_req: IPV6_FL_A_GET, IPV6_FL_S_USER, IPV6_FL_F_CREATE.
		var req [32]byte
		copy(req[:16], dst[:])
		binary.BigEndian.PutUint32(req[16:20], l)
		req[20], req[21] = 0, 3
		binary.NativeEndian.PutUint16(req[22:24], 1)
		if _, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_IPV6, 32, /* IPV6_FLOWLABEL_MGR */
			uintptr(unsafe.Pointer(&req[0])), uintptr(len(req)), 0); errno != 0 {
			t.Fatalf("leasing flow label %#x: %v", l, errno)
		}
	}
	const id, seq = 4242, 7
	b, err := (&icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("ecmp")}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, l := range labels() {
			sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst}
			binary.BigEndian.PutUint32((*[4]byte)(unsafe.Pointer(&sa.Flowinfo))[:], l)
			if _, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
				uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa)); errno != 0 {
				t.Fatalf("echo with flow label %#x: %v", l, errno)
			}
			awaitEchoReply(t, fd, id, seq)
		}
	}
	return seen(t, lab, testbin.SeenFlowLabel, values)
}

func awaitEchoReply(t *testing.T, fd, id, seq int) {
	t.Helper()
	buf := make([]byte, 1500)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("echo reply id %d seq %d: %v", id, seq, err)
		}
		m, err := icmp.ParseMessage(58, buf[:n])
		if err != nil || m.Type != ipv6.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return
		}
	}
}
