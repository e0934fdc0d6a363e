package prober

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

func TestAnswerRTT(t *testing.T) {
	start := time.Unix(1000, 0)
	ms := time.Millisecond
	at := func(d time.Duration) int64 { return start.Add(d).UnixNano() }
	tests := []struct {
		name      string
		elapsed   time.Duration
		sent      time.Time
		lastTS    int64
		handshake time.Duration
		want      time.Duration
	}{
		{"no kernel timestamp: the process's clock", 9 * ms, start.Add(5 * ms), 0, 1 * ms, 9 * ms},
		{"no handshake RTT: from start to the answer", 9 * ms, start.Add(5 * ms), at(7 * ms), 0, 7 * ms},
		{"late request: the prober's own delay left out", 9 * ms, start.Add(5 * ms), at(7 * ms), 1 * ms, 3 * ms},
		{"request not marked: from start", 9 * ms, time.Time{}, at(7 * ms), 1 * ms, 7 * ms},
		{"parts longer than the whole: the whole", 9 * ms, start.Add(1 * ms), at(7 * ms), 3 * ms, 7 * ms},
		{"wall clock jumped back", 9 * ms, start.Add(5 * ms), at(-time.Hour), 1 * ms, 9 * ms},
		{"wall clock jumped ahead", 9 * ms, start.Add(5 * ms), at(time.Hour), 1 * ms, 9 * ms},
	}
	for _, tc := range tests {
		if got := answerRTT(tc.elapsed, start, tc.sent, tc.lastTS, tc.handshake); got != tc.want {
			t.Errorf("%s: RTT %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestAnswerReaderKeepsTheKernelTimestamp(t *testing.T) {
	port := serveRaw(t, func(c net.Conn) {
		c.Read(make([]byte, 64))
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"))
	})
	start := time.Now()
	conn, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ar := newAnswerReader()
	r := ar.reset(conn)
	if ar.handshake <= 0 {
		t.Fatalf("no handshake RTT from the kernel")
	}
	time.Sleep(30 * time.Millisecond) // the prober is late to write its request: not the path's fault
	ar.requestSent()
	conn.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	var buf [maxHelloHeader]byte
	if err := readHelloAnswer(r, buf[:]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // and late to notice the answer: the RTT must not grow either
	rtt := ar.rtt(start)
	if ar.lastTS == 0 || rtt <= 0 || rtt >= 30*time.Millisecond {
		t.Fatalf("RTT %s (kernel timestamp %d, handshake %s): want neither of the prober's delays in it", rtt, ar.lastTS, ar.handshake)
	}
}

// A SYN lost once makes the connection wait for its retransmission (1 s);
// the kernel's handshake RTT then comes from the second SYN, so it must not
// be used: the probe's RTT has to show the second.
func TestHTTPProbeRTTShowsALostSYN(t *testing.T) {
	lab := testbin.NewLab(t)
	testbin.NeedTool(t, "nft", "apt-get install -y nftables")
	const ns = "cxt-prb-syn"
	lab.Netns(ns)
	const port = 4240
	// numgen counts only the SYNs that reach it: the first is dropped,
	// its retransmission and the next probe's SYN pass.
	rules := fmt.Sprintf("table inet cxt {\n chain out {\n  type filter hook output priority 0;\n  tcp dport %d tcp flags & (syn | ack) == syn numgen inc mod 3 == 0 drop\n }\n}\n", port)
	nft := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(rules)
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}

	// Sockets belong to the namespace of the thread that makes them.
	var first, second Outcome
	err := testbin.InNetns(ns, func() error {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.Read(make([]byte, 512))
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"))
				}()
			}
		}()
		probe := NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello"})
		for _, o := range []*Outcome{&first, &second} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			*o = probe(ctx, netip.MustParseAddr("127.0.0.1"))
			cancel()
		}
		ln.Close()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Result != ResultSuccess || first.RTT < 900*time.Millisecond {
		t.Errorf("first SYN dropped: %+v, want success with an RTT over the 1 s retransmission", first)
	}
	if second.Result != ResultSuccess || second.RTT >= 100*time.Millisecond {
		t.Errorf("second SYN dropped too: %+v", second)
	}
}
