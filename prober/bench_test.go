package prober

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The hot paths, one probe at a time. CPU per probe at scale, with every
// process involved, is measured by bench/ (see BENCHMARKS.md).

func benchmarkProbe(b *testing.B, probe ProbeFunc, ip netip.Addr) {
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		o := probe(ctx, ip)
		cancel()
		if o.Result != ResultSuccess {
			b.Fatalf("%+v", o)
		}
	}
}

func BenchmarkICMPLoopback(b *testing.B) {
	testbin.NeedRoot(b, "raw ICMP sockets")
	lo := netip.MustParseAddr("127.0.0.1")
	b.Run("engine", func(b *testing.B) {
		e, err := NewICMPEngine(ICMPConfig{Privileged: true})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		benchmarkProbe(b, e.Probe, lo)
	})
	b.Run("engine-parallel", func(b *testing.B) {
		e, err := NewICMPEngine(ICMPConfig{Privileged: true})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				o := e.Probe(ctx, lo)
				cancel()
				if o.Result != ResultSuccess {
					b.Errorf("%+v", o)
					return
				}
			}
		})
	})
	b.Run("pro-bing", func(b *testing.B) {
		benchmarkProbe(b, NewICMPProbe(ICMPConfig{Privileged: true}), lo)
	})
}

func BenchmarkHTTPLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello\n")) })}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	lo := netip.MustParseAddr("127.0.0.1")
	b.Run("minimal", func(b *testing.B) {
		benchmarkProbe(b, NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello"}), lo)
	})
	b.Run("net-http", func(b *testing.B) {
		benchmarkProbe(b, NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello", NetHTTP: true}), lo)
	})
}

func BenchmarkStoreRecord(b *testing.B) {
	s := NewStore(3)
	ts := make([]Target, 5000)
	for i := range ts {
		ts[i] = Target{Peer: fmt.Sprintf("node-%d", i), Path: PathHost, Protocol: ProtocolICMP, IP: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})}
	}
	s.Retain(ts)
	o := Outcome{Result: ResultSuccess, RTT: 100 * time.Microsecond}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Record(ts[i%len(ts)], o, now)
		i++
	}
}
