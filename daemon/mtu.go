package daemon

import (
	"fmt"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/routemtu"
)

// newMTUProbe builds the full-size probes that check a path's MTU: an ICMP
// engine of its own whose sockets set don't-fragment, the sized /hello GET
// (on the small probe's connection where the small probe is the minimal
// GET), and the route MTUs. None when the daemon sends none.
func newMTUProbe(c *Config) (prober.FullSizeProbes, func(), error) {
	if c.MTUProbeEvery() == 0 {
		return prober.FullSizeProbes{}, func() {}, nil
	}
	e, err := prober.NewICMPEngine(prober.ICMPConfig{Privileged: c.ICMPPrivileged, DontFragment: true})
	if err != nil {
		return prober.FullSizeProbes{}, nil, fmt.Errorf("full-size ICMP engine: %w", err)
	}
	endpoint := c.EndpointMTU
	if endpoint == 0 {
		endpoint = c.MTU
	}
	routes := routemtu.New(c.MTURefresh)
	httpCfg := prober.HTTPConfig{Port: c.HelloPort, Path: hello.Path}
	cfg := prober.MTUProbeConfig{
		HostMTU:     c.MTU,
		EndpointMTU: endpoint,
		Routes:      routes,
		ICMP:        e.ProbeSize,
		HTTP:        prober.NewMTUHTTPProbe(httpCfg),
	}
	probes := prober.FullSizeProbes{Probe: prober.NewMTUProbe(cfg)}
	// In a full-size turn the small probe is sent with the full-size one
	// where it is the same probe as usual: the shared engine's echo (a
	// small echo with don't-fragment is the same packet), the minimal
	// GET. pro-bing's and net/http's small probes keep to themselves.
	if c.ICMPEngine != "pro-bing" {
		cfg.ICMPWithSmall = e.ProbeSmallAndSize
	}
	if c.HTTPClient != "net-http" {
		cfg.HTTPWithSmall = prober.NewSmallAndFullSizeHTTPProbe(httpCfg)
	}
	if cfg.ICMPWithSmall != nil || cfg.HTTPWithSmall != nil {
		probes.WithSmall = prober.NewSmallAndFullSizeProbe(cfg)
	}
	return probes, func() { e.Close(); routes.Close() }, nil
}
