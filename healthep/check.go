package healthep

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// newCheckClient returns a client for the /hello check. Every check opens a
// new connection (a kept-alive one would bypass a broken path) and ignores
// proxy settings from the environment (the health IP is never proxied).
func newCheckClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{Timeout: timeout}).DialContext,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// check verifies one built endpoint: the name still points at our netns, the
// host veth is ours and up, the server runs and /hello answers from the
// daemon's netns. The cheap local checks come first so the log names the
// actual breakage instead of a timeout.
func (e *endpoint) check(ctx context.Context, client *http.Client) error {
	id, err := namedNetnsID(e.cfg.Netns)
	if err != nil {
		return fmt.Errorf("netns %q: %w", e.cfg.Netns, err)
	}
	if id != e.nsID {
		return fmt.Errorf("netns %q was replaced by another namespace", e.cfg.Netns)
	}
	link, err := e.host.LinkByName(e.cfg.HostInterface)
	if err != nil {
		return fmt.Errorf("host interface %s: %w", e.cfg.HostInterface, err)
	}
	switch attrs := link.Attrs(); {
	case attrs.Index != e.hostIndex:
		return fmt.Errorf("host interface %s was replaced (index %d, ours was %d)", e.cfg.HostInterface, attrs.Index, e.hostIndex)
	case attrs.Flags&net.FlagUp == 0:
		return fmt.Errorf("host interface %s is administratively down", e.cfg.HostInterface)
	case attrs.RawFlags&unix.IFF_LOWER_UP == 0:
		// Carrier rather than operstate: operstate lags behind by up to a
		// second, carrier drops at once when the inner end goes down.
		return fmt.Errorf("host interface %s has no carrier (inner end down or gone)", e.cfg.HostInterface)
	}
	if err := e.server.exited(); err != nil {
		return err
	}
	return getHello(ctx, client, helloURL(e.cfg.IP, e.cfg.HelloPort))
}

func helloURL(ip netip.Addr, port int) string {
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(port)) + hello.Path
}

func getHello(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return nil
}
