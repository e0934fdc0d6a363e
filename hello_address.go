package main

import (
	"fmt"
	"net"
	"strconv"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// defaultHelloAddress is the default of --hello.listen-address, ":4240",
// for the daemon and the hello command alike.
func defaultHelloAddress() string {
	return net.JoinHostPort("", strconv.Itoa(hello.DefaultPort))
}

// helloListenPort checks a --hello.listen-address and returns its port. The
// port must be a fixed one: it is also the port every daemon probes on peers.
func helloListenPort(address string) (int, error) {
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return 0, fmt.Errorf("--hello.listen-address %q: %w", address, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("--hello.listen-address %q: port must be 1-65535", address)
	}
	return p, nil
}
