package nodes

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxProblems caps how many problems one error lists: a garbage file can
// have thousands, and the first few are what an operator needs.
const maxProblems = 20

// Validate checks a node list that did not come from a file (for example
// from the Kubernetes API): the list is not empty, every name is valid and
// unique, every node has a host IP, every IP is a unicast address without a
// zone, a node has at most one address of each family for its host and its
// health endpoint (the IPv4 one first), and no IP is used twice (as host or
// health address, across all nodes).
//
// Like ParseFile it reports every problem, one per line of the error, but
// places them by index ("nodes[2]: ...") since there is no line.
func Validate(nodes []Node) error {
	if len(nodes) == 0 {
		return errors.New("node list is empty")
	}
	v := newValidator(func(i int, _ field) place { return place{index: i} })
	for i, n := range nodes {
		v.name(i, n.Name)
		if n.HostIP.IsValid() {
			v.addr(i, n.Name, fieldHostIP, n.HostIP, n.HostIP.String())
		} else {
			v.add(i, fieldNode, "%shost_ip is required", subject(n.Name))
		}
		if n.HealthIP.IsValid() {
			v.addr(i, n.Name, fieldHealthIP, n.HealthIP, n.HealthIP.String())
		}
		v.dualStack(i, n.Name, fieldHostIPs, n.HostIP, n.DualStackHostIP)
		v.dualStack(i, n.Name, fieldHealthIPs, n.HealthIP, n.DualStackHealthIP)
		v.topology(i, n.Name, fieldZone, n.Zone)
		v.topology(i, n.Name, fieldRegion, n.Region)
	}
	return joinProblems(v.problems)
}

// checkEntries applies Validate's checks to the entries of a node file
// and returns the nodes they describe. A problem is placed on the line of
// its field, or of the entry when the field is missing.
func checkEntries(entries []fileEntry) ([]Node, []problem) {
	v := newValidator(func(i int, f field) place {
		if line := entries[i].fieldLine(f); line != 0 {
			return place{line: line}
		}
		return place{line: entries[i].line}
	})
	nodes := make([]Node, len(entries))
	for i := range entries {
		e, n := &entries[i], &nodes[i]
		switch {
		case e.Name.got != "":
			v.add(i, fieldName, "node name must be a string, got %s", e.Name.got)
		case e.Name.line == 0:
			v.add(i, fieldNode, "node name is required")
		default:
			n.Name = e.Name.text
			v.name(i, n.Name)
		}
		n.HostIP, n.DualStackHostIP = v.fileAddrs(i, n.Name, fieldHostIP, e.HostIP, fieldHostIPs, e.HostIPs)
		if e.HostIP.line == 0 && e.HostIPs.line == 0 {
			v.add(i, fieldNode, "%shost_ip is required", subject(n.Name))
		}
		n.HealthIP, n.DualStackHealthIP = v.fileAddrs(i, n.Name, fieldHealthIP, e.HealthIP, fieldHealthIPs, e.HealthIPs)
		n.Zone = v.fileTopology(i, n.Name, fieldZone, e.Zone)
		n.Region = v.fileTopology(i, n.Name, fieldRegion, e.Region)
	}
	return nodes, v.problems
}

// Find returns the node called name.
func Find(nodes []Node, name string) (Node, bool) {
	for _, n := range nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// field is a part of a node, so that a problem can point at its line.
type field int

const (
	fieldNode field = iota // the node as a whole
	fieldName
	fieldHostIP
	fieldHostIPs
	fieldHealthIP
	fieldHealthIPs
	fieldZone
	fieldRegion
)

func (f field) String() string {
	switch f {
	case fieldName:
		return "name"
	case fieldHostIP:
		return "host_ip"
	case fieldHostIPs:
		return "host_ips"
	case fieldHealthIP:
		return "health_ip"
	case fieldHealthIPs:
		return "health_ips"
	case fieldZone:
		return "zone"
	case fieldRegion:
		return "region"
	}
	return "node"
}

// place is where a problem is: a 1-based line of a file, or when line is 0
// an index into a list; index -1 means the list as a whole.
type place struct {
	line  int
	index int
}

func (p place) String() string {
	if p.line > 0 {
		return fmt.Sprintf("line %d", p.line)
	}
	return fmt.Sprintf("nodes[%d]", p.index)
}

// problem is one thing wrong with the input, and where.
type problem struct {
	at  place
	msg string
}

func (p problem) Error() string {
	if p.at.line == 0 && p.at.index < 0 {
		return p.msg
	}
	return p.at.String() + ": " + p.msg
}

// joinProblems returns nil for no problems, else one error that lists them
// in input order, one per line (errors.Join), at most maxProblems of them.
func joinProblems(ps []problem) error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b problem) int {
		if a.at.line != b.at.line {
			return a.at.line - b.at.line
		}
		return a.at.index - b.at.index
	})
	errs := make([]error, 0, min(len(ps), maxProblems)+1)
	for _, p := range ps[:min(len(ps), maxProblems)] {
		errs = append(errs, p)
	}
	if more := len(ps) - maxProblems; more > 0 {
		errs = append(errs, problem{at: place{index: -1}, msg: fmt.Sprintf("(%d more problems not shown)", more)})
	}
	return errors.Join(errs...)
}

// validator holds the checks that do not depend on YAML, shared by Validate
// and ParseFile so that both accept exactly the same lists; where tells how
// to place a problem (by line for a file, by index otherwise).
type validator struct {
	where    func(i int, f field) place
	names    map[string]int       // name -> index of the node that has it first
	addrs    map[netip.Addr]owner // IP -> the first node and field that use it
	problems []problem
}

// owner is the node and field an IP address was first seen in.
type owner struct {
	index int
	field field
	name  string
}

func newValidator(where func(i int, f field) place) *validator {
	return &validator{
		where: where,
		names: map[string]int{},
		addrs: map[netip.Addr]owner{},
	}
}

func (v *validator) add(i int, f field, format string, args ...any) {
	v.problems = append(v.problems, problem{at: v.where(i, f), msg: fmt.Sprintf(format, args...)})
}

// name checks node i's name against the rules and the names seen so far.
func (v *validator) name(i int, name string) {
	if reason := nameProblem(name); reason != "" {
		v.add(i, fieldName, "%s", reason)
		return
	}
	if first, dup := v.names[name]; dup {
		v.add(i, fieldName, "duplicate node name %q (first at %s)", name, v.where(first, fieldName))
		return
	}
	v.names[name] = i
}

// nameProblem says what is wrong with a node name, or "" if nothing. Names
// end up in label values, log lines and the status table, so they must be
// printable and free of spaces; "cluster/name" is the multi-cluster form.
func nameProblem(name string) string {
	if strings.TrimSpace(name) == "" {
		return "node name is empty"
	}
	if !utf8.ValidString(name) {
		return fmt.Sprintf("invalid node name %q: not valid UTF-8", name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) {
			return fmt.Sprintf("invalid node name %q: contains whitespace", name)
		}
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("invalid node name %q: contains a non-printable character", name)
		}
	}
	if cluster, node, multi := strings.Cut(name, "/"); multi && (cluster == "" || node == "" || strings.Contains(node, "/")) {
		return fmt.Sprintf("invalid node name %q: want \"name\" or \"cluster/name\"", name)
	}
	return ""
}

// addr checks one IP of node i (host_ip or health_ip) and that no node
// used it before. ip must be valid (IsValid); shown is how the input spelt
// it, for the error.
func (v *validator) addr(i int, name string, f field, ip netip.Addr, shown string) {
	if reason := AddrProblem(ip); reason != "" {
		v.add(i, f, "%sinvalid %s %q: %s", subject(name), f, shown, reason)
		return
	}
	ip = ip.Unmap() // ::ffff:10.0.0.1 and 10.0.0.1 are the same peer
	if first, dup := v.addrs[ip]; dup {
		v.add(i, f, "%s%s %s duplicates %s of node %q (first at %s)",
			subject(name), f, ip, first.field, first.name, v.where(first.index, first.field))
		return
	}
	v.addrs[ip] = owner{index: i, field: f, name: name}
}

// maxTopologyLen is the longest zone or region, in characters: the limit
// of a Kubernetes label value, so that every topology label passes.
const maxTopologyLen = 63

// topology checks node i's zone or region; "" (none) is valid.
func (v *validator) topology(i int, name string, f field, value string) {
	if reason := topologyProblem(value); reason != "" {
		v.add(i, f, "%sinvalid %s %q: %s", subject(name), f, value, reason)
	}
}

// topologyProblem says what is wrong with a zone or region, or "" if
// nothing. They become label values (peer_zone, source_zone) and words of
// rules and dashboards, so they are printable and free of spaces.
func topologyProblem(value string) string {
	if !utf8.ValidString(value) {
		return "not valid UTF-8"
	}
	if n := utf8.RuneCountInString(value); n > maxTopologyLen {
		return fmt.Sprintf("%d characters, at most %d allowed", n, maxTopologyLen)
	}
	for _, r := range value {
		if unicode.IsSpace(r) {
			return "contains whitespace"
		}
		if !unicode.IsPrint(r) {
			return "contains a non-printable character"
		}
	}
	return ""
}

// fileTopology checks a zone or region of node i as the file wrote it,
// and returns it, or "" when it is absent or bad.
func (v *validator) fileTopology(i int, name string, f field, t textField) string {
	if t.got != "" {
		v.add(i, f, "%s%s must be a string, got %s", subject(name), f, t.got)
		return ""
	}
	if topologyProblem(t.text) != "" {
		v.topology(i, name, f, t.text)
		return ""
	}
	return t.text
}

// fileAddr checks an IP of node i as the file wrote it, and returns it
// (unmapped), or the zero Addr when it is absent or not an IP.
func (v *validator) fileAddr(i int, name string, f field, ip ipField) netip.Addr {
	switch {
	case ip.line == 0:
		return netip.Addr{}
	case ip.got != "":
		v.add(i, f, "%s%s must be a string, got %s", subject(name), f, ip.got)
		return netip.Addr{}
	case !ip.addr.IsValid():
		v.add(i, f, "%sinvalid %s %q", subject(name), f, ip.text)
		return netip.Addr{}
	}
	v.addr(i, name, f, ip.addr, ip.text)
	return ip.addr.Unmap()
}

// fileAddrs checks the addresses of node i as the file wrote them, in
// the single form (host_ip) or the list form (host_ips), and returns them
// as Node keeps them: the IPv4 one first on dual stack. Both forms at once,
// more than one address of a family and a list that is not one are
// problems; the addresses that are fine are still checked for duplicates.
func (v *validator) fileAddrs(i int, name string, single field, ip ipField, list field, ips ipListField) (first, second netip.Addr) {
	switch {
	case ips.line == 0:
		return v.fileAddr(i, name, single, ip), netip.Addr{}
	case ip.line != 0:
		v.add(i, list, "%s%s and %s are both set; use one", subject(name), single, list)
		return netip.Addr{}, netip.Addr{}
	case ips.got != "":
		v.add(i, list, "%s%s must be a list, got %s", subject(name), list, ips.got)
		return netip.Addr{}, netip.Addr{}
	}
	var got []netip.Addr
	for _, item := range ips.items {
		if a := v.fileAddr(i, name, list, item); a.IsValid() {
			got = append(got, a)
		}
	}
	if len(got) < len(ips.items) {
		return netip.Addr{}, netip.Addr{} // reported
	}
	first, second, ok := DualStack(got)
	if !ok {
		v.add(i, list, "%s%s has %s: at most one address of each family (IPv4, IPv6) is allowed",
			subject(name), list, describeAddrs(got))
		return netip.Addr{}, netip.Addr{}
	}
	return first, second
}

// dualStack checks that the pair of a node's addresses (Node.HostIP and
// DualStackHostIP, or the health pair) is as Node keeps it: the second
// only with a first, the first IPv4 and the second IPv6.
func (v *validator) dualStack(i int, name string, f field, first, second netip.Addr) {
	switch {
	case !second.IsValid():
		return
	case !first.IsValid():
		v.add(i, f, "%s%s: an IPv6 address (%s) without an IPv4 one", subject(name), f, second)
		return
	case !first.Unmap().Is4() || second.Unmap().Is4():
		v.add(i, f, "%s%s: want an IPv4 and an IPv6 address, got %s and %s", subject(name), f, first, second)
		return
	}
	v.addr(i, name, f, second, second.String())
}

// describeAddrs says what a list of addresses holds, for errors: "2
// IPv4 addresses (10.0.0.1, 10.0.0.2)".
func describeAddrs(ips []netip.Addr) string {
	v4 := 0
	shown := make([]string, len(ips))
	for j, ip := range ips {
		if ip.Unmap().Is4() {
			v4++
		}
		shown[j] = ip.String()
	}
	kinds := []string{}
	if v4 > 0 {
		kinds = append(kinds, fmt.Sprintf("%d IPv4", v4))
	}
	if v6 := len(ips) - v4; v6 > 0 {
		kinds = append(kinds, fmt.Sprintf("%d IPv6", v6))
	}
	return fmt.Sprintf("%s addresses (%s)", strings.Join(kinds, " and "), strings.Join(shown, ", "))
}

// AddrProblem says why ip cannot be a probe target, or "" if it can.
// Zones are refused because the list is shared by all nodes and an
// interface name means something different on each.
func AddrProblem(ip netip.Addr) string {
	if ip.Zone() != "" {
		return "zone not allowed"
	}
	ip = ip.Unmap() // Is* do not look inside ::ffff:0.0.0.0
	switch {
	case ip.IsUnspecified():
		return "unspecified address"
	case ip.IsMulticast():
		return "multicast address"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast address"
	}
	return ""
}

// subject starts a message about a node: `node "x": `, or nothing when the
// node has no usable name (that has its own error).
func subject(name string) string {
	if strings.TrimSpace(name) == "" {
		return ""
	}
	return fmt.Sprintf("node %q: ", name)
}
