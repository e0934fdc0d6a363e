package main

import (
	"fmt"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/routemtu"
)

// Bounds of --probe.mtu and --probe.mtu.endpoint: IPv6's minimum MTU, and
// the largest IP packet.
const (
	minMTUFlag = 1280
	maxMTUFlag = 65535
)

// fullSizeEvery is --probe.mtu.every as the daemon runs it: 0 (off) for a
// passive daemon.
func (f *daemonFlags) fullSizeEvery() int {
	if f.passive {
		return 0
	}
	return f.mtuEvery
}

// fullSizeProbe builds the full-size probes: an ICMP engine of its own whose
// sockets set don't-fragment, the sized /hello GET, and the route MTUs.
func (f *daemonFlags) fullSizeProbe() (prober.FullSizeFunc, func(), error) {
	if f.fullSizeEvery() == 0 {
		return nil, func() {}, nil
	}
	e, err := prober.NewICMPEngine(prober.ICMPConfig{Privileged: f.icmpPrivileged, DontFragment: true})
	if err != nil {
		return nil, nil, fmt.Errorf("full-size ICMP engine: %w", err)
	}
	endpoint := f.mtuEndpoint
	if endpoint == 0 {
		endpoint = f.mtu
	}
	routes := routemtu.New(f.mtuRefresh)
	probe := prober.NewFullSizeProbe(prober.FullSizeConfig{
		HostMTU:     f.mtu,
		EndpointMTU: endpoint,
		Routes:      routes,
		ICMP:        e.ProbeSize,
		HTTP:        prober.NewFullSizeHTTPProbe(prober.HTTPConfig{Port: f.helloPort, Path: hello.Path}),
	})
	return probe, func() { e.Close(); routes.Close() }, nil
}

// fullSizeProbe is deps.fullSize, or none when the composition has none.
func (d *daemonCommand) fullSizeProbe(deps daemonDeps) (prober.FullSizeFunc, func(), error) {
	if deps.fullSize == nil {
		return nil, func() {}, nil
	}
	return deps.fullSize(&d.flags)
}
