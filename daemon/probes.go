package daemon

import (
	"fmt"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// newProbesWithEngine builds the probe of each protocol as c asks, what
// closes them, and the shared ICMP engine (nil with pro-bing) for the
// flow probes.
func newProbesWithEngine(c *Config) (map[prober.Protocol]prober.ProbeFunc, func(), *prober.ICMPEngine, error) {
	icmp, closeICMP, engine, err := newICMPProbe(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return map[prober.Protocol]prober.ProbeFunc{
		prober.ProtocolICMP: icmp,
		prober.ProtocolHTTP: prober.NewHTTPProbe(prober.HTTPConfig{Port: c.HelloPort, Path: hello.Path, NetHTTP: c.HTTPClient == "net-http"}),
	}, closeICMP, engine, nil
}

// newICMPProbe builds the ICMP prober c.ICMPEngine names, and what closes
// it. The shared engine opens its socket now, so that a missing
// CAP_NET_RAW is a clear start error.
func newICMPProbe(c *Config) (prober.ProbeFunc, func(), *prober.ICMPEngine, error) {
	cfg := prober.ICMPConfig{Privileged: c.ICMPPrivileged}
	if c.ICMPEngine == "pro-bing" {
		return prober.NewICMPProbe(cfg), func() {}, nil, nil
	}
	e, err := prober.NewICMPEngine(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ICMP engine: %w", err)
	}
	return e.Probe, func() { e.Close() }, e, nil
}
