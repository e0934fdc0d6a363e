// Package healthep builds and supervises the node's health endpoint: a named
// network namespace (as in `ip netns list`) holding the health IP, joined to
// the daemon's netns by a veth pair, with the /hello responder (package
// hello) listening inside it. Peers probe it to tell "node up" apart from "node forwards
// traffic to endpoints".
//
// Layout, for health IP H and the default names:
//
//	daemon netns                           netns connectivity-health
//	  route H/32 dev cx_health  ── veth ──  eth0: H/32
//	  ip_forward=1                          default via 169.254.1.1 dev eth0 onlink
//	                                        neigh 169.254.1.1 = MAC of cx_health (permanent)
//
// The host side has no address: traffic for H is routed into the veth, and
// everything leaving the namespace is handed to the host veth's MAC and routed
// (or forwarded) by the daemon's netns like any other packet.
package healthep
