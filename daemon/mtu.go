package daemon

import (
	"fmt"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/routemtu"
)

// newMTUProbe builds the full-size probes that check a path's MTU: an ICMP
// engine of its own whose sockets set don't-fragment, the sized /hello GET,
// and the route MTUs. nil when the daemon sends none.
func newMTUProbe(c *Config) (prober.MTUProbeFunc, func(), error) {
	if c.MTUProbeEvery() == 0 {
		return nil, func() {}, nil
	}
	e, err := prober.NewICMPEngine(prober.ICMPConfig{Privileged: c.ICMPPrivileged, DontFragment: true})
	if err != nil {
		return nil, nil, fmt.Errorf("full-size ICMP engine: %w", err)
	}
	endpoint := c.EndpointMTU
	if endpoint == 0 {
		endpoint = c.MTU
	}
	routes := routemtu.New(c.MTURefresh)
	probe := prober.NewMTUProbe(prober.MTUProbeConfig{
		HostMTU:     c.MTU,
		EndpointMTU: endpoint,
		Routes:      routes,
		ICMP:        e.ProbeSize,
		HTTP:        prober.NewMTUHTTPProbe(prober.HTTPConfig{Port: c.HelloPort, Path: hello.Path}),
	})
	return probe, func() { e.Close(); routes.Close() }, nil
}
