package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// netnsPrefixEnv names the variable that holds this run's prefix of
// network namespace names, so that two benches at once (or a bench and
// cxbench exec) do not tear down each other's namespaces; a run without it
// picks one (claimNetnsPrefix) and its children inherit it.
const netnsPrefixEnv = "CXB_NETNS_PREFIX"

// claimNetnsPrefix gives this run a prefix of its own unless its parent
// (run.sh, or cxbench run for cxbench inner) did.
func claimNetnsPrefix() error {
	if os.Getenv(netnsPrefixEnv) != "" {
		return nil
	}
	return os.Setenv(netnsPrefixEnv, fmt.Sprintf("cxb%d", os.Getpid()))
}

func netnsPrefix() string {
	if p := os.Getenv(netnsPrefixEnv); p != "" {
		return p
	}
	return "cxb"
}

// nsProber is where every prober runs, nsPeers where the peers answer.
func nsProber() string { return netnsPrefix() + "-prober" }
func nsPeers() string  { return netnsPrefix() + "-peers" }

const (
	// proberAddr is the prober's own address, and the local node's host IP.
	proberAddr = "198.18.127.1"
	peersAddr  = "198.18.127.2"
	// peerRange is local in cxb-peers: every address in it answers.
	peerRange = "198.18.128.0/17"
)

// runMain builds the namespaces, runs the scenarios inside cxb-prober and
// removes the namespaces, whatever happens.
func runMain(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	exporter := fs.String("exporter", "./connectivity_exporter", "the exporter binary")
	out := fs.String("out", "BENCHMARKS.md", "the file to write the figures into")
	limit := fs.Duration("limit", 15*time.Minute, "stop everything after this long")
	quick := fs.Bool("quick", false, "short windows, for trying the harness out")
	only := fs.String("only", "", "run only the tools whose name contains this (for trying the harness out)")
	_ = fs.Parse(args) // ExitOnError: exits rather than return an error
	if os.Geteuid() != 0 {
		return errors.New("needs root: network namespaces and raw sockets")
	}
	for _, t := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("missing %s (apt-get install -y iproute2 nftables)", t)
		}
	}
	exe, err := filepath.Abs(*exporter)
	if err != nil {
		return err
	}
	if _, err := os.Stat(exe); err != nil {
		return fmt.Errorf("exporter binary: %w (build it with go build -o)", err)
	}
	outPath, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "cxbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	if err := claimNetnsPrefix(); err != nil {
		return err
	}
	teardown() // leftovers of a run that was killed
	defer teardown()
	if err := setup(ctx); err != nil {
		return fmt.Errorf("building the namespaces: %w", err)
	}
	argv := []string{"netns", "exec", nsProber(), self, "inner", "-exporter", exe, "-out", outPath, "-tmp", tmp}
	if *quick {
		argv = append(argv, "-quick")
	}
	if *only != "" {
		argv = append(argv, "-only", *only)
	}
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	return cmd.Run()
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func setup(ctx context.Context) error {
	steps := [][]string{
		{"netns", "add", nsProber()},
		{"netns", "add", nsPeers()},
		// Created inside the namespaces: the root namespace never has them.
		{"-n", nsProber(), "link", "add", "cxb-p0", "type", "veth", "peer", "name", "cxb-p1", "netns", nsPeers()},
		{"-n", nsProber(), "link", "set", "lo", "up"},
		{"-n", nsProber(), "addr", "add", proberAddr + "/30", "dev", "cxb-p0"},
		{"-n", nsProber(), "link", "set", "cxb-p0", "up"},
		{"-n", nsPeers(), "link", "set", "lo", "up"},
		{"-n", nsPeers(), "addr", "add", peersAddr + "/30", "dev", "cxb-p1"},
		{"-n", nsPeers(), "link", "set", "cxb-p1", "up"},
		{"-n", nsPeers(), "route", "add", "local", peerRange, "dev", "lo"},
		{"-n", nsProber(), "route", "add", peerRange, "via", peersAddr},
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			return err
		}
	}
	sysctls := map[string]map[string]string{
		// Unprivileged ICMP sockets for the --no-privileged runs.
		nsProber(): {"net/ipv4/ping_group_range": "0 2147483647"},
		// Thousands of peers in one namespace: no ICMP rate limit, room in
		// the accept queue.
		nsPeers(): {"net/ipv4/icmp_ratelimit": "0", "net/ipv4/icmp_msgs_per_sec": "1000000", "net/core/somaxconn": "4096"},
	}
	for ns, kv := range sysctls {
		for k, v := range kv {
			cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "sh", "-c", "echo \"$1\" > /proc/sys/"+k, "sh", v)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("sysctl %s in %s: %w: %s", k, ns, err, out)
			}
		}
	}
	return nil
}

// teardown ends what still runs in the namespaces (only processes this
// harness started can be there) and deletes them.
func teardown() {
	for _, ns := range []string{nsProber(), nsPeers()} {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// startHelloResponder answers /hello for every peer address: a passive
// exporter in cxb-peers, its admin socket in tmp.
func startHelloResponder(exporter, tmp string) (*child, error) {
	return startChild("hello responder", "ip", "netns", "exec", nsPeers(), exporter, "--probe.passive",
		"--hello.listen-address=:4240", "--web.listen-address=127.0.0.1:9241",
		"--admin.socket="+filepath.Join(tmp, "peers-admin.sock"), "--log.level=warn")
}

// execMain builds the namespaces and the /hello responder, runs a command
// inside cxb-prober and removes everything: for trying variants by hand.
//
//	cxbench exec -exporter ./connectivity_exporter -- cxbench probe -stats ...
func execMain(args []string) error {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	exporter := fs.String("exporter", "./connectivity_exporter", "the exporter binary (the /hello responder)")
	limit := fs.Duration("limit", 5*time.Minute, "stop everything after this long")
	_ = fs.Parse(args) // ExitOnError: exits rather than return an error
	if fs.NArg() == 0 {
		return errors.New("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	if err := claimNetnsPrefix(); err != nil {
		return err
	}
	teardown()
	defer teardown()
	if err := setup(ctx); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "cxbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	peers, err := startHelloResponder(*exporter, tmp)
	if err != nil {
		return err
	}
	defer peers.stop()
	in := &inner{tmp: tmp}
	if err := in.writeNodeFiles(); err != nil {
		return err
	}
	fmt.Println("node files in", tmp)
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nsProber()}, fs.Args()...)...)
	cmd.Env = append(os.Environ(), "CXB_TMP="+tmp)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd.Run()
}
