package prober

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/routemtu"
)

// The full-size probes next to the small ones (BenchmarkICMPLoopback,
// BenchmarkHTTPLoopback): one probe at a time on loopback, so each figure
// is the prober's and the peer's kernel work together.

func benchmarkFullSize(b *testing.B, probe MTUProbeFunc, t Target) {
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		o := probe(ctx, t)
		cancel()
		if o.Result != MTUResultOK {
			b.Fatalf("%+v", o)
		}
	}
}

// fixedMTU is an MTUSource that says 1500 without reading the routing table.
type fixedMTU struct{}

func (fixedMTU) Expected(netip.Addr) (int, error) { return 1500, nil }
func (fixedMTU) Current(netip.Addr) int           { return 1500 }

func BenchmarkFullSizeLoopback(b *testing.B) {
	lo := netip.MustParseAddr("127.0.0.1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: hello.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	httpSize := NewMTUHTTPProbe(HTTPConfig{Port: port, Path: hello.Path})

	b.Run("http-small", func(b *testing.B) {
		benchmarkProbe(b, NewHTTPProbe(HTTPConfig{Port: port, Path: hello.Path}), lo)
	})
	b.Run("http-6000", func(b *testing.B) {
		probe := NewMTUProbe(MTUProbeConfig{Routes: fixedMTU{}, HTTP: httpSize})
		benchmarkFullSize(b, probe, Target{Path: PathHost, Protocol: ProtocolHTTP, IP: lo})
	})
	b.Run("http-6000-route", func(b *testing.B) {
		// With the routing table read: Expected from the cache, Current
		// (a learned path MTU) afresh after every success.
		probe := NewMTUProbe(MTUProbeConfig{HostMTU: 1500, Routes: routemtu.New(time.Minute), HTTP: httpSize})
		benchmarkFullSize(b, probe, Target{Path: PathHost, Protocol: ProtocolHTTP, IP: lo})
	})
	if !isRoot() {
		b.Log("the ICMP benchmarks need root: raw ICMP sockets")
		return
	}
	e, err := NewICMPEngine(ICMPConfig{Privileged: true, DontFragment: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.Run("icmp-small", func(b *testing.B) { benchmarkProbe(b, e.Probe, lo) })
	b.Run("icmp-1500", func(b *testing.B) {
		probe := NewMTUProbe(MTUProbeConfig{Routes: fixedMTU{}, ICMP: e.ProbeSize})
		benchmarkFullSize(b, probe, Target{Path: PathHost, Protocol: ProtocolICMP, IP: lo})
	})
}
