package testbin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// An ECMP lab: a client, a router with an N-way multipath route (a Linux
// nexthop group) to a server prefix through N member routers, and the
// server, each a network namespace:
//
//	client ── router ─┬─ member 0 ─┐
//	                  ├─ member 1 ─┤
//	                  ├─   ...    ─┼─ server (198.19.0.1, 2001:db8:ffff::1 on lo)
//	                  └─ member N-1┘
//	          router ───────────────── server (the way back, direct)
//
// Only the way there crosses the members, so a member that drops what it
// forwards hurts exactly the flows the router hashes onto it, and each
// member's nftables counters and sets say which flows crossed it. Both
// families; the router's hash policy is set per family.

// Addresses of an ECMP lab.
var (
	ECMPServer4 = netip.MustParseAddr("198.19.0.1")
	ECMPServer6 = netip.MustParseAddr("2001:db8:ffff::1")
	ECMPClient4 = netip.MustParseAddr("198.18.0.2")
	ECMPClient6 = netip.MustParseAddr("2001:db8::2")
)

// Bits of net.ipv{4,6}.fib_multipath_hash_fields (policy 3), from the
// kernel's ip-sysctl documentation.
const (
	HashSrcIP     = 0x01
	HashDstIP     = 0x02
	HashProto     = 0x04
	HashFlowLabel = 0x08 // IPv6 only
	HashSrcPort   = 0x10
	HashDstPort   = 0x20
	// HashFiveTuple is what a switch's L4 hash covers.
	HashFiveTuple = HashSrcIP | HashDstIP | HashProto | HashSrcPort | HashDstPort
)

// HashPolicy is a router's fib_multipath_hash_policy for one family: 0 L3,
// 1 L4, 2 L3 of the inner packet, 3 custom (Fields).
type HashPolicy struct {
	Policy int
	Fields uint32 // policy 3 only
}

func (p HashPolicy) String() string {
	if p.Policy == 3 {
		return fmt.Sprintf("policy 3 fields %#04x", p.Fields)
	}
	return fmt.Sprintf("policy %d", p.Policy)
}

// ECMPConfig says how big an ECMP lab is and how its router hashes.
type ECMPConfig struct {
	Members int // at least 2; 0 is 4
	// ClientHosts are more hosts on the client's side, each a namespace
	// behind the client (which routes for them): ECMPClientHost4/6 are
	// their addresses. Their traffic to the server crosses the group.
	ClientHosts int
	// ServerAddrs is how many addresses the server has on lo (0 is 1):
	// ECMPServerAddr4/6(0..ServerAddrs-1), each a destination (a node)
	// of its own for the group's hash.
	ServerAddrs    int
	Hash4, Hash6   HashPolicy
	ServerMTU      int // of the members' links to the server; 0 leaves 1500
	commandTimeout time.Duration
}

// ECMPLab is a built lab; NewECMPLab removes it when the test ends.
type ECMPLab struct {
	Client, Router, Server string   // network namespace names
	Members                []string // member router namespaces, in nexthop order
	ClientHosts            []string // namespaces of ECMPConfig.ClientHosts
	timeout                time.Duration
}

// Keys a member records for every packet it forwards to the server, for
// ECMPLab.Seen.
const (
	SeenTCPSourcePort = "sport"
	SeenICMPID4       = "icmpid4"
	SeenICMPSeq4      = "icmpseq4"
	SeenICMPID6       = "icmpid6"
	SeenICMPSeq6      = "icmpseq6"
	SeenFlowLabel     = "flowlabel"
	// SeenFirstSYN holds the source ports whose first SYN the member
	// dropped under FaultDropFirstSYN.
	SeenFirstSYN = "synonce"
	// SeenBackTCPDestPort4 and 6 hold the TCP destination ports (the
	// client's source ports) of what a member forwards from the server,
	// per family, once the way back crosses the members
	// (RouteBackViaMembers).
	SeenBackTCPDestPort4 = "backdport4"
	SeenBackTCPDestPort6 = "backdport6"
)

// Keys a member records for every packet it forwards to the server, by
// who sent it to whom, for ECMPLab.SeenTuples: each tuple is the values
// joined by " ", e.g. "198.18.0.2 198.19.0.1 60001 4240".
const (
	SeenTCP4  = "tcp4"  // source address, destination address, TCP source and destination port
	SeenTCP6  = "tcp6"  // the same for IPv6
	SeenEcho4 = "echo4" // source and destination address of ICMP echo requests
	SeenEcho6 = "echo6" // source and destination address and flow label of ICMPv6 echo requests
)

// ECMPClientHost4 and ECMPClientHost6 are the addresses of client host
// i (ECMPConfig.ClientHosts).
func ECMPClientHost4(i int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("198.18.4.%d", 4*i+2))
}

// ECMPClientHost6: see ECMPClientHost4.
func ECMPClientHost6(i int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:4:%x::2", i))
}

// ECMPServerAddr4 and ECMPServerAddr6 are the server's address i
// (ECMPConfig.ServerAddrs); address 0 is ECMPServer4 and ECMPServer6.
func ECMPServerAddr4(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("198.19.0.%d", i+1)) }

// ECMPServerAddr6: see ECMPServerAddr4.
func ECMPServerAddr6(i int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:ffff::%x", i+1))
}

// Fault is what a member does to the packets it forwards to the server.
type Fault struct {
	Kind     FaultKind
	MaxBytes int // FaultDropLarger: IP packets over this many bytes are dropped
}

// FaultKind names a Fault.
type FaultKind int

const (
	FaultNone         FaultKind = iota
	FaultDropAll                // a black-holing member
	FaultDropLarger             // an MTU black hole: drops IP packets over MaxBytes
	FaultDropFirstSYN           // drops the first SYN of each source port, to make TCP retransmit it
)

// NewECMPLab builds an ECMP lab, or skips the test without root, ip or nft
// (fails under CX_TEST_STRICT=1). Everything built is removed at the end of
// the test, also when building fails half way.
func NewECMPLab(t testing.TB, cfg ECMPConfig) *ECMPLab {
	t.Helper()
	NeedRoot(t, "builds network namespaces")
	NeedTool(t, "ip", "apt-get install -y iproute2")
	NeedTool(t, "nft", "apt-get install -y nftables")
	if cfg.Members == 0 {
		cfg.Members = 4
	}
	if cfg.Members < 2 || cfg.Members > 64 {
		t.Fatalf("an ECMP lab has 2 to 64 members, not %d", cfg.Members)
	}
	if cfg.ClientHosts < 0 || cfg.ClientHosts > 63 {
		t.Fatalf("an ECMP lab has 0 to 63 client hosts, not %d", cfg.ClientHosts)
	}
	if cfg.ServerAddrs == 0 {
		cfg.ServerAddrs = 1
	}
	if cfg.ServerAddrs < 1 || cfg.ServerAddrs > 250 {
		t.Fatalf("an ECMP lab's server has 1 to 250 addresses, not %d", cfg.ServerAddrs)
	}
	if cfg.commandTimeout == 0 {
		cfg.commandTimeout = 20 * time.Second
	}
	var id [3]byte
	_, _ = rand.Read(id[:])
	p := "cxe" + hex.EncodeToString(id[:]) // unique: other tests build labs at the same time
	l := &ECMPLab{Client: p + "c", Router: p + "r", Server: p + "s", timeout: cfg.commandTimeout}
	for i := range cfg.Members {
		l.Members = append(l.Members, fmt.Sprintf("%sm%d", p, i))
	}
	for i := range cfg.ClientHosts {
		l.ClientHosts = append(l.ClientHosts, fmt.Sprintf("%sh%d", p, i))
	}
	all := append(append([]string{l.Client, l.Router, l.Server}, l.Members...), l.ClientHosts...)
	t.Cleanup(func() {
		for _, ns := range all {
			_ = exec.Command("ip", "netns", "del", ns).Run() // the veths go with their namespaces
		}
	})
	if err := l.build(cfg, all); err != nil {
		t.Fatalf("building the ECMP lab: %v", err)
	}
	return l
}

func (l *ECMPLab) build(cfg ECMPConfig, all []string) error {
	var root strings.Builder
	for _, ns := range all {
		fmt.Fprintf(&root, "netns add %s\n", ns)
	}
	if err := l.run("", "ip", []string{"-batch", "-"}, root.String()); err != nil {
		return err
	}
	// No reverse-path filter: the way back bypasses the members, and
	// forwarding on, before any link exists, so every link inherits it.
	for _, ns := range all {
		if err := l.sysctl(ns, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
			"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.default.accept_dad=0"); err != nil {
			return err
		}
	}
	var links strings.Builder
	fmt.Fprintf(&links, "link add name r0 netns %s type veth peer name c0 netns %s\n", l.Router, l.Client)
	fmt.Fprintf(&links, "link add name rr netns %s type veth peer name sr netns %s\n", l.Router, l.Server)
	for i, m := range l.Members {
		fmt.Fprintf(&links, "link add name m%d netns %s address %s type veth peer name a netns %s address %s\n",
			i, l.Router, routerMAC(i), m, memberMAC(i))
		fmt.Fprintf(&links, "link add name b netns %s address %s type veth peer name s%d netns %s\n", m, memberServerMAC(i), i, l.Server)
	}
	for i, h := range l.ClientHosts {
		fmt.Fprintf(&links, "link add name h%d netns %s type veth peer name c0 netns %s\n", i, l.Client, h)
	}
	if err := l.run("", "ip", []string{"-batch", "-"}, links.String()); err != nil {
		return err
	}
	cmds := map[string][]string{
		l.Client: {
			"link set dev lo up", "link set dev c0 up",
			"addr add 198.18.0.2/30 dev c0", "addr add 2001:db8::2/64 dev c0 nodad",
			"route add default via 198.18.0.1", "route add ::/0 via 2001:db8::1",
		},
		l.Router: {
			"link set dev lo up", "link set dev r0 up", "link set dev rr up",
			"addr add 198.18.0.1/30 dev r0", "addr add 2001:db8::1/64 dev r0 nodad",
			"addr add 198.18.3.1/30 dev rr", "addr add 2001:db8:3::1/64 dev rr nodad",
		},
		l.Server: {
			"link set dev lo up", "link set dev sr up",
			"addr add 198.19.0.1/32 dev lo", "addr add 2001:db8:ffff::1/128 dev lo",
			"addr add 198.18.3.2/30 dev sr", "addr add 2001:db8:3::2/64 dev sr nodad",
			"route add default via 198.18.3.1", "route add ::/0 via 2001:db8:3::1",
		},
	}
	for i := 1; i < cfg.ServerAddrs; i++ {
		cmds[l.Server] = append(cmds[l.Server], fmt.Sprintf("addr add %s/32 dev lo", ECMPServerAddr4(i)),
			fmt.Sprintf("addr add %s/128 dev lo", ECMPServerAddr6(i)))
	}
	if len(l.ClientHosts) > 0 {
		cmds[l.Router] = append(cmds[l.Router], "route add 198.18.4.0/24 via 198.18.0.2", "route add 2001:db8:4::/48 via 2001:db8::2")
	}
	for i, h := range l.ClientHosts {
		leaf4, leaf6 := fmt.Sprintf("198.18.4.%d", 4*i+1), fmt.Sprintf("2001:db8:4:%x::1", i)
		cmds[l.Client] = append(cmds[l.Client], fmt.Sprintf("link set dev h%d up", i),
			fmt.Sprintf("addr add %s/30 dev h%d", leaf4, i), fmt.Sprintf("addr add %s/64 dev h%d nodad", leaf6, i))
		cmds[h] = []string{"link set dev lo up", "link set dev c0 up",
			fmt.Sprintf("addr add %s/30 dev c0", ECMPClientHost4(i)), fmt.Sprintf("addr add %s/64 dev c0 nodad", ECMPClientHost6(i)),
			"route add default via " + leaf4, "route add ::/0 via " + leaf6}
	}
	var group4, group6 []string
	for i, m := range l.Members {
		r4, m4 := fmt.Sprintf("198.18.1.%d", 4*i+1), fmt.Sprintf("198.18.1.%d", 4*i+2)
		b4, s4 := fmt.Sprintf("198.18.2.%d", 4*i+1), fmt.Sprintf("198.18.2.%d", 4*i+2)
		r6, m6 := fmt.Sprintf("2001:db8:1:%x::1", i), fmt.Sprintf("2001:db8:1:%x::2", i)
		b6, s6 := fmt.Sprintf("2001:db8:2:%x::1", i), fmt.Sprintf("2001:db8:2:%x::2", i)
		cmds[l.Router] = append(cmds[l.Router],
			fmt.Sprintf("link set dev m%d up", i),
			fmt.Sprintf("addr add %s/30 dev m%d", r4, i), fmt.Sprintf("addr add %s/64 dev m%d nodad", r6, i),
			// Permanent neighbours: a nexthop group skips a member whose
			// neighbour entry is not valid (not yet resolved, or
			// failed), which would move flows while the lab warms up.
			fmt.Sprintf("neigh replace %s lladdr %s dev m%d nud permanent", m4, memberMAC(i), i),
			fmt.Sprintf("neigh replace %s lladdr %s dev m%d nud permanent", m6, memberMAC(i), i),
			fmt.Sprintf("nexthop add id %d via %s dev m%d", i+1, m4, i),
			fmt.Sprintf("nexthop add id %d via %s dev m%d", 101+i, m6, i))
		group4 = append(group4, fmt.Sprint(i+1))
		group6 = append(group6, fmt.Sprint(101+i))
		cmds[m] = []string{
			"link set dev lo up", "link set dev a up", "link set dev b up",
			fmt.Sprintf("addr add %s/30 dev a", m4), fmt.Sprintf("addr add %s/64 dev a nodad", m6),
			fmt.Sprintf("addr add %s/30 dev b", b4), fmt.Sprintf("addr add %s/64 dev b nodad", b6),
			fmt.Sprintf("route add 198.19.0.0/24 via %s", s4), fmt.Sprintf("route add 2001:db8:ffff::/64 via %s", s6),
			fmt.Sprintf("route add default via %s", r4), fmt.Sprintf("route add ::/0 via %s", r6),
		}
		cmds[l.Server] = append(cmds[l.Server], fmt.Sprintf("link set dev s%d up", i),
			fmt.Sprintf("addr add %s/30 dev s%d", s4, i), fmt.Sprintf("addr add %s/64 dev s%d nodad", s6, i))
		if cfg.ServerMTU > 0 {
			cmds[m] = append(cmds[m], fmt.Sprintf("link set dev b mtu %d", cfg.ServerMTU))
			cmds[l.Server] = append(cmds[l.Server], fmt.Sprintf("link set dev s%d mtu %d", i, cfg.ServerMTU))
		}
	}
	cmds[l.Router] = append(cmds[l.Router],
		"nexthop add id 1000 group "+strings.Join(group4, "/"),
		"nexthop add id 1001 group "+strings.Join(group6, "/"),
		"route add 198.19.0.0/24 nhid 1000",
		"route add 2001:db8:ffff::/64 nhid 1001")
	// The router last: a nexthop needs its link's peer up.
	order := append(append(append([]string{l.Client, l.Server}, l.ClientHosts...), l.Members...), l.Router)
	for _, ns := range order {
		if err := l.run("", "ip", []string{"-n", ns, "-batch", "-"}, strings.Join(cmds[ns], "\n")+"\n"); err != nil {
			return err
		}
	}
	for _, m := range l.Members {
		if err := l.run(m, "nft", []string{"-f", "-"}, memberRules); err != nil {
			return err
		}
	}
	if err := l.run(l.Router, "nft", []string{"-f", "-"}, routerRules); err != nil {
		return err
	}
	if err := l.SetHashPolicy(4, cfg.Hash4); err != nil {
		return err
	}
	return l.SetHashPolicy(6, cfg.Hash6)
}

// routerMAC and memberMAC are the two ends of the link to member i.
func routerMAC(i int) string { return fmt.Sprintf("02:00:00:00:%02x:01", i) }
func memberMAC(i int) string { return fmt.Sprintf("02:00:00:00:%02x:02", i) }

// memberServerMAC is member i's end of its link to the server.
func memberServerMAC(i int) string { return fmt.Sprintf("02:00:00:01:%02x:01", i) }

// memberRules count and record every packet a member forwards to the
// server, then apply the member's fault (chain fault, empty while healthy).
const memberRules = `table inet cxlab {
	counter forwarded {}
	set sport { typeof tcp sport; flags dynamic; }
	set icmpid4 { typeof icmp id; flags dynamic; }
	set icmpseq4 { typeof icmp sequence; flags dynamic; }
	set icmpid6 { typeof icmpv6 id; flags dynamic; }
	set icmpseq6 { typeof icmpv6 sequence; flags dynamic; }
	set flowlabel { typeof ip6 flowlabel; flags dynamic; }
	set synonce { typeof tcp sport; flags dynamic; }
	set tcp4 { typeof ip saddr . ip daddr . tcp sport . tcp dport; flags dynamic; }
	set tcp6 { typeof ip6 saddr . ip6 daddr . tcp sport . tcp dport; flags dynamic; }
	set echo4 { typeof ip saddr . ip daddr; flags dynamic; }
	set echo6 { typeof ip6 saddr . ip6 daddr . ip6 flowlabel; flags dynamic; }
	set backdport4 { typeof tcp dport; flags dynamic; }
	set backdport6 { typeof tcp dport; flags dynamic; }
	chain forward {
		type filter hook forward priority 0; policy accept;
		meta nfproto ipv4 ip saddr 198.19.0.0/24 jump back
		meta nfproto ipv6 ip6 saddr 2001:db8:ffff::/64 jump back
		meta nfproto ipv4 ip daddr != 198.19.0.0/24 accept
		meta nfproto ipv6 ip6 daddr != 2001:db8:ffff::/64 accept
		counter name forwarded
		jump record
		jump fault
	}
	# A reset the kernel sends for a socket already gone carries none of
	# its flow's identity (an IPv6 one has another flow label): not
	# recorded, or a flow would seem to cross two members.
	chain record {
		tcp flags & rst == rst return
		meta l4proto tcp add @sport { tcp sport }
		icmp type echo-request add @icmpid4 { icmp id }
		icmp type echo-request add @icmpseq4 { icmp sequence }
		icmpv6 type echo-request add @icmpid6 { icmpv6 id }
		icmpv6 type echo-request add @icmpseq6 { icmpv6 sequence }
		meta nfproto ipv6 add @flowlabel { ip6 flowlabel }
		meta nfproto ipv4 meta l4proto tcp add @tcp4 { ip saddr . ip daddr . tcp sport . tcp dport }
		meta nfproto ipv6 meta l4proto tcp add @tcp6 { ip6 saddr . ip6 daddr . tcp sport . tcp dport }
		icmp type echo-request add @echo4 { ip saddr . ip daddr }
		icmpv6 type echo-request add @echo6 { ip6 saddr . ip6 daddr . ip6 flowlabel }
	}
	# The way back, where it crosses the members (RouteBackViaMembers):
	# the client's TCP ports, and the member's fault.
	chain back {
		meta nfproto ipv4 meta l4proto tcp add @backdport4 { tcp dport }
		meta nfproto ipv6 meta l4proto tcp add @backdport6 { tcp dport }
		jump fault
	}
	chain fault {
	}
}
`

// routerRules apply the way back's fault (SetReturnFault) to what the
// router forwards from the server.
const routerRules = `table inet cxlab {
	set synonce { typeof tcp sport; flags dynamic; }
	chain forward {
		type filter hook forward priority 0; policy accept;
		meta nfproto ipv4 ip saddr 198.19.0.0/24 jump fault
		meta nfproto ipv6 ip6 saddr 2001:db8:ffff::/64 jump fault
	}
	chain fault {
	}
}
`

// SetHashPolicy sets the router's multipath hash policy for family 4 or 6.
func (l *ECMPLab) SetHashPolicy(family int, p HashPolicy) error {
	if family != 4 && family != 6 {
		return fmt.Errorf("family %d: 4 or 6", family)
	}
	if p.Policy < 0 || p.Policy > 3 {
		return fmt.Errorf("hash policy %d: 0 to 3", p.Policy)
	}
	keys := []string{fmt.Sprintf("net.ipv%d.fib_multipath_hash_policy=%d", family, p.Policy)}
	if p.Policy == 3 {
		if p.Fields == 0 {
			return fmt.Errorf("hash policy 3 with no fields")
		}
		keys = append(keys, fmt.Sprintf("net.ipv%d.fib_multipath_hash_fields=%#x", family, p.Fields))
	}
	return l.sysctl(l.Router, keys...)
}

// SetFault makes member i apply f to what it forwards to the server from
// now on; Fault{} heals it.
func (l *ECMPLab) SetFault(i int, f Fault) error {
	if i < 0 || i >= len(l.Members) {
		return fmt.Errorf("no member %d of %d", i, len(l.Members))
	}
	return l.setFault(l.Members[i], f)
}

// SetReturnFault makes the router apply f to what it forwards from the
// server to the client (the way back, which crosses no member): where an
// MTU black hole hurts a server's full-size answers.
func (l *ECMPLab) SetReturnFault(f Fault) error {
	return l.setFault(l.Router, f)
}

// RouteBackViaMembers sends the way back from the server to the client
// over the members too, hashed by the server like the way there: the
// 5-tuple, and for IPv6 the flow label, which the server's TCP
// connections reflect from the client's (net.ipv6.flowlabel_reflect), so
// that each TCP flow comes back over a fixed member. Echo replies are the
// kernel's own: in the fabric test, an IPv6 path's replies all came back
// over one member. A
// member's fault then hurts what it forwards either way (a server's
// full-size answers too), and Seen(SeenBackTCPDestPort4 or 6) says which flows
// came back over it.
func (l *ECMPLab) RouteBackViaMembers() error {
	var cmds, group4, group6 []string
	for i := range l.Members {
		b4 := fmt.Sprintf("198.18.2.%d", 4*i+1)
		b6 := fmt.Sprintf("2001:db8:2:%x::1", i)
		cmds = append(cmds,
			fmt.Sprintf("neigh replace %s lladdr %s dev s%d nud permanent", b4, memberServerMAC(i), i),
			fmt.Sprintf("neigh replace %s lladdr %s dev s%d nud permanent", b6, memberServerMAC(i), i),
			fmt.Sprintf("nexthop replace id %d via %s dev s%d", 201+i, b4, i),
			fmt.Sprintf("nexthop replace id %d via %s dev s%d", 301+i, b6, i))
		group4 = append(group4, fmt.Sprint(201+i))
		group6 = append(group6, fmt.Sprint(301+i))
	}
	cmds = append(cmds,
		"nexthop replace id 2000 group "+strings.Join(group4, "/"),
		"nexthop replace id 2001 group "+strings.Join(group6, "/"),
		"route replace 198.18.0.0/30 nhid 2000",
		"route replace 2001:db8::/64 nhid 2001")
	if err := l.sysctl(l.Server,
		"net.ipv4.fib_multipath_hash_policy=3", fmt.Sprintf("net.ipv4.fib_multipath_hash_fields=%#x", HashFiveTuple),
		"net.ipv6.fib_multipath_hash_policy=3", fmt.Sprintf("net.ipv6.fib_multipath_hash_fields=%#x", HashFiveTuple|HashFlowLabel),
		"net.ipv6.flowlabel_reflect=1"); err != nil {
		return err
	}
	return l.run("", "ip", []string{"-n", l.Server, "-batch", "-"}, strings.Join(cmds, "\n")+"\n")
}

func (l *ECMPLab) setFault(ns string, f Fault) error {
	script := "flush chain inet cxlab fault\nflush set inet cxlab synonce\n"
	switch f.Kind {
	case FaultNone:
	case FaultDropAll:
		script += "add rule inet cxlab fault drop\n"
	case FaultDropLarger:
		if f.MaxBytes <= 0 {
			return fmt.Errorf("FaultDropLarger needs MaxBytes")
		}
		script += fmt.Sprintf("add rule inet cxlab fault meta length > %d drop\n", f.MaxBytes)
	case FaultDropFirstSYN:
		script += "add rule inet cxlab fault tcp flags & (syn|ack) == syn tcp sport @synonce accept\n" +
			"add rule inet cxlab fault tcp flags & (syn|ack) == syn add @synonce { tcp sport } drop\n"
	default:
		return fmt.Errorf("unknown fault %d", f.Kind)
	}
	return l.run(ns, "nft", []string{"-f", "-"}, script)
}

// Forwarded returns how many packets each member has forwarded (or
// dropped by its fault) towards the server since the last Reset.
func (l *ECMPLab) Forwarded() ([]uint64, error) {
	out := make([]uint64, len(l.Members))
	for i, m := range l.Members {
		var v struct {
			Nftables []struct {
				Counter *struct{ Packets uint64 } `json:"counter"`
			} `json:"nftables"`
		}
		if err := l.nftJSON(m, &v, "list", "counter", "inet", "cxlab", "forwarded"); err != nil {
			return nil, err
		}
		for _, o := range v.Nftables {
			if o.Counter != nil {
				out[i] = o.Counter.Packets
			}
		}
	}
	return out, nil
}

// Seen returns, for each value of key (a Seen* constant) in packets
// forwarded towards the server since the last Reset, the members that
// forwarded such packets.
func (l *ECMPLab) Seen(key string) (map[uint32][]int, error) {
	out := map[uint32][]int{}
	for i, m := range l.Members {
		var v struct {
			Nftables []struct {
				Set *struct{ Elem []uint32 } `json:"set"`
			} `json:"nftables"`
		}
		if err := l.nftJSON(m, &v, "list", "set", "inet", "cxlab", key); err != nil {
			return nil, err
		}
		for _, o := range v.Nftables {
			if o.Set != nil {
				for _, e := range o.Set.Elem {
					out[e] = append(out[e], i)
				}
			}
		}
	}
	return out, nil
}

// SeenTuples returns, for each tuple of key (a SeenTCP4, SeenTCP6,
// SeenEcho4 or SeenEcho6) in packets forwarded towards the server since
// the last Reset, the members that forwarded such packets.
func (l *ECMPLab) SeenTuples(key string) (map[string][]int, error) {
	out := map[string][]int{}
	for i, m := range l.Members {
		var v struct {
			Nftables []struct {
				Set *struct {
					Elem []struct {
						Concat []json.RawMessage `json:"concat"`
					}
				} `json:"set"`
			} `json:"nftables"`
		}
		if err := l.nftJSON(m, &v, "list", "set", "inet", "cxlab", key); err != nil {
			return nil, err
		}
		for _, o := range v.Nftables {
			if o.Set == nil {
				continue
			}
			for _, e := range o.Set.Elem {
				parts := make([]string, len(e.Concat))
				for j, c := range e.Concat {
					parts[j] = strings.Trim(string(c), `"`) // an address is a string, a port a number
				}
				k := strings.Join(parts, " ")
				out[k] = append(out[k], i)
			}
		}
	}
	return out, nil
}

// Reset zeroes the members' counters and empties what they have seen.
func (l *ECMPLab) Reset() error {
	script := "reset counter inet cxlab forwarded\n"
	for _, s := range []string{SeenTCPSourcePort, SeenICMPID4, SeenICMPSeq4, SeenICMPID6, SeenICMPSeq6, SeenFlowLabel, SeenFirstSYN, SeenTCP4, SeenTCP6, SeenEcho4, SeenEcho6, SeenBackTCPDestPort4, SeenBackTCPDestPort6} {
		script += "flush set inet cxlab " + s + "\n"
	}
	for _, m := range l.Members {
		if err := l.run(m, "nft", []string{"-f", "-"}, script); err != nil {
			return err
		}
	}
	return nil
}

// In runs fn on a thread inside network namespace ns: the sockets fn opens
// belong to ns and keep working from any goroutine afterwards.
func (l *ECMPLab) In(ns string, fn func() error) error { return InNetns(ns, fn) }

func (l *ECMPLab) nftJSON(ns string, v any, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft", "-j"}, args...)...)
	cmd.Stdout = &out
	if err := l.start(cmd); err != nil {
		return err
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("nft %s in %s: %w", strings.Join(args, " "), ns, err)
	}
	return nil
}

func (l *ECMPLab) sysctl(ns string, kv ...string) error {
	return l.run(ns, "sysctl", append([]string{"-q", "-w"}, kv...), "")
}

// run runs name with args, in namespace ns unless it is "", stdin fed.
func (l *ECMPLab) run(ns, name string, args []string, stdin string) error {
	if ns != "" {
		args = append([]string{"netns", "exec", ns, name}, args...)
		name = "ip"
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return l.start(cmd)
}

// start runs cmd within the lab's command timeout.
func (l *ECMPLab) start(cmd *exec.Cmd) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	timer := time.AfterFunc(l.timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// ServeHello runs one /hello responder in the server on every address it
// has (ECMPServer4, ECMPServer6 and ServerAddrs) at each of ports, until t
// ends.
func (l *ECMPLab) ServeHello(t testing.TB, ports ...int) {
	t.Helper()
	srv := hello.NewServer(hello.Options{})
	t.Cleanup(func() { _ = srv.Close() })
	if err := l.In(l.Server, func() error {
		for _, port := range ports {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
			if err != nil {
				return err
			}
			go func() { _ = hello.Serve(srv, ln) }()
		}
		return nil
	}); err != nil {
		t.Fatalf("/hello in the ECMP lab's server: %v", err)
	}
}
