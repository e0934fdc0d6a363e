// Package status renders what the daemon knows for a person at a terminal:
// the status, ping and get commands, in text (the layout of cilium-health
// status) or JSON, with a one-line diagnosis per unhealthy node.
//
// Exit codes, for scripts and the README:
//
//	0  status: every node is reachable on all its paths (also when no node
//	   is known); ping and get: the daemon answered.
//	1  status: at least one node is not reachable on all its paths,
//	   including paths not probed yet (right after the daemon starts; use
//	   --probe), or a path of it is an MTU black hole.
//	2  usage error: an unknown -o value, or a flag or command the command
//	   line parser rejects.
//	3  no usable answer from the daemon: its socket does not exist or
//	   nothing listens on it (not running), permission denied, no answer
//	   within the timeout, or an answer that cannot be decoded.
//	4  the answer could not be written to stdout (a closed pipe, a full
//	   disk), whatever it was.
//
// The codes are defined once, in package exitcode.
//
// A node counts as reachable only when all of its paths are reachable. The
// diagnosis reads each node's four paths together, and all nodes together:
//
//	this node is isolated   at least two, and at least half, of the peers
//	                        are unreachable on all host paths
//	down or cut off         no probed path of the node answers
//	endpoints dropped       the host answers, the health endpoint does not
//	                        (e.g. a FORWARD chain with policy DROP)
//	ICMP filtered           ICMP fails where HTTP to the same address works
//	exporter not running    host ICMP answers, HTTP /hello is refused
//	port blocked            host ICMP answers, HTTP /hello times out or fails
//	                        (the port is the report's hello_port, 4240 by default)
//	not probed yet          no result for the node's paths yet
//
// When every small probe of a node works, its full-size probes are read:
//
//	MTU black hole          full-size probes are lost on a path (twice in a
//	                        row) while small ones pass
//	reduced path MTU        full-size probes were refused as too big and
//	                        PMTUD learned a smaller MTU: information
package status
