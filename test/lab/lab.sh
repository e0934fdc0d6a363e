#!/usr/bin/env bash
# A cluster of K nodes on one machine: each node is a network namespace on a
# bridge, running the real connectivity_exporter with its own health endpoint.
# Addresses come from 198.18.0.0/15 only: hosts 198.18.0.N, health IPs
# 198.19.0.N; with LAB_IPV6=1 the same nodes are dual stack, adding hosts
# 2001:db8::N and health IPs 2001:db8:1::N (2001:db8::/32 only). Used by
# `make demo` and by the end-to-end tests.
#
#   lab.sh up [K]            build the lab and start K exporters (default 3)
#   lab.sh down              stop the exporters and remove everything
#   lab.sh fault NAME [N]    inject: forward-drop N | forward-drop6 N | icmp-drop | cut N | stop N | kill N
#                                    | isolate N | zone-cut A B
#   lab.sh clear NAME [N]    undo:   forward-drop N | forward-drop6 N | icmp-drop | cut N | start N
#                                    | isolate N | zone-cut A B
#                            (forward-drop6 drops forwarded IPv6 only)
#                            (stop is SIGTERM; kill is SIGKILL, leaving the
#                            health endpoint and admin socket behind, as a crash does)
#   lab.sh metrics N         print node N's /metrics
#   lab.sh exec N CMD...     run CMD in node N's namespace
#
# Environment: LAB_PREFIX (default cxlab; keep it short, it names links),
# LAB_DIR (state: node list, logs, sockets; default /tmp/$LAB_PREFIX),
# LAB_BIN (the exporter binary; default ./connectivity_exporter),
# LAB_ARGS (extra exporter flags for every node), LAB_NO_HEALTH=1 (no health endpoints),
# LAB_POLL (--nodes.file.poll-interval, default 500ms), LAB_IPV6=1 (dual
# stack; not with LAB_ZONES),
# LAB_ZONES=Z (Z zones, 2 to 9: the nodes in Z blocks, zone-a, zone-b...,
# a bridge per zone joined by a router namespace; node N of zone z has host
# IP 198.18.z.N; the machine has 198.18.z.254 on each zone bridge and the
# router 198.18.z.253, so that Prometheus scrapes every node directly while
# traffic between zones goes through the router).
#
# Faults of zoned labs: isolate N drops all traffic of node N with other
# nodes on its uplink (the machine still scrapes it); zone-cut A B (zone
# numbers) drops what the router forwards between zones A and B.
set -euo pipefail

P=${LAB_PREFIX:-cxlab}
DIR=${LAB_DIR:-/tmp/$P}
BIN=${LAB_BIN:-./connectivity_exporter}
BR="$P-br"
METRICS_PORT=9240

die() { echo "lab: $*" >&2; exit 1; }
ns() { echo "$P-n$1"; }
zones() { cat "$DIR/zones" 2>/dev/null || echo 0; }
# zone_of N: the zone number (1..Z) of node N in a zoned lab.
zone_of() { echo $((($1 - 1) * $(zones) / $(nodes_up) + 1)); }
zone_name() { echo "zone-$(echo abcdefghi | cut -c"$1")"; }
host_ip() { if [ "$(zones)" -gt 0 ]; then echo "198.18.$(zone_of "$1").$1"; else echo "198.18.0.$1"; fi; }
zone_br() { echo "$P-bz$1"; }
health_ip() { echo "198.19.0.$1"; }
host_ip6() { echo "2001:db8::$1"; }
health_ip6() { echo "2001:db8:1::$1"; }
dual_stack() { [ -n "${LAB_IPV6:-}" ]; }
nodes_up() { cat "$DIR/size" 2>/dev/null || echo 0; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root: it creates network namespaces (try: sudo $0 $*)"; }
need_tools() {
	for t in ip nft curl; do command -v "$t" >/dev/null || die "missing '$t' (Debian: apt-get install -y iproute2 nftables curl)"; done
}

write_nodes() {
	local k=$1 f=$DIR/nodes.yaml i
	{
		echo "nodes:"
		for i in $(seq 1 "$k"); do
			echo "  - name: node-$i"
			if dual_stack; then
				echo "    host_ips: [$(host_ip "$i"), \"$(host_ip6 "$i")\"]"
				[ -n "${LAB_NO_HEALTH:-}" ] || echo "    health_ips: [$(health_ip "$i"), \"$(health_ip6 "$i")\"]"
			else
				echo "    host_ip: $(host_ip "$i")"
				[ -n "${LAB_NO_HEALTH:-}" ] || echo "    health_ip: $(health_ip "$i")"
			fi
			[ "$(zones)" = 0 ] || echo "    zone: $(zone_name "$(zone_of "$i")")"
		done
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

start_node() {
	local i=$1
	[ -x "$BIN" ] || die "exporter binary $BIN not found (make build)"
	mkdir -p "$DIR/node-$i"
	# nsenter, not ip netns exec: the daemon stays in the host's mount
	# namespace, as it does on a real host, so the health namespace it mounts
	# under /run/netns outlives a crash (ip netns exec gives it a private
	# one, where a SIGKILL frees the namespace and its veth at once).
	# shellcheck disable=SC2086
	nsenter --net="/run/netns/$(ns "$i")" "$BIN" \
		--node.name="node-$i" --nodes.file="$DIR/nodes.yaml" --nodes.file.poll-interval="${LAB_POLL:-500ms}" \
		--web.listen-address=":$METRICS_PORT" --admin.socket="$DIR/node-$i/admin.sock" \
		--health-endpoint.netns="$P-h$i" --health-endpoint.interface=cx_health \
		${LAB_ARGS:-} >"$DIR/node-$i/log" 2>&1 &
	echo $! >"$DIR/node-$i/pid"
}

stop_node() {
	local i=$1 pid
	pid=$(cat "$DIR/node-$i/pid" 2>/dev/null) || return 0
	rm -f "$DIR/node-$i/pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	echo "lab: node-$i did not stop within 10s of SIGTERM, killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

# kill_node: SIGKILL, as a crash or the OOM killer would; nothing is cleaned up.
kill_node() {
	local i=$1 pid
	pid=$(cat "$DIR/node-$i/pid" 2>/dev/null) || return 0
	rm -f "$DIR/node-$i/pid"
	kill -KILL "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		# Gone, or a zombie not yet reaped by whoever adopted it.
		[ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 0
		sleep 0.1
	done
	die "node-$i did not die within 10s of SIGKILL"
}

wait_metrics() {
	local i=$1
	for _ in $(seq 1 100); do
		curl -fs -o /dev/null --max-time 1 "http://$(host_ip "$i"):$METRICS_PORT/metrics" && return 0
		kill -0 "$(cat "$DIR/node-$i/pid")" 2>/dev/null || { cat "$DIR/node-$i/log" >&2; die "node-$i exited"; }
		sleep 0.1
	done
	cat "$DIR/node-$i/log" >&2
	die "node-$i serves no /metrics after 10s"
}

up() {
	local k=${1:-3} i j
	[[ $k =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le 50 ] || die "node count must be 1-50, got '$k'"
	[ ! -e "$DIR/size" ] || die "a lab is already up in $DIR (lab.sh down first)"
	# Every lab uses the same addresses: two at once would collide.
	other=$(ip -o addr show to 198.18.0.0/15 | awk '{print $2; exit}')
	[ -z "$other" ] || die "another lab is up (its bridge is $other): LAB_PREFIX=${other%-b*} $0 down"
	mkdir -p "$DIR"
	echo "$k" >"$DIR/size"
	if [ -n "${LAB_ZONES:-}" ]; then
		! dual_stack || die "LAB_IPV6 and LAB_ZONES do not go together (zoned labs are IPv4 only)"
		[[ $LAB_ZONES =~ ^[2-9]$ ]] && [ "$LAB_ZONES" -le "$k" ] || die "LAB_ZONES must be 2-9 and at most the node count, got '$LAB_ZONES'"
		echo "$LAB_ZONES" >"$DIR/zones"
		up_zoned "$k"
		return
	fi
	ip link add "$BR" type bridge
	ip addr add 198.18.0.254/24 dev "$BR"
	# nodad: the lab's addresses are usable at once, not after a second of
	# duplicate address detection.
	! dual_stack || ip addr add 2001:db8::fe/64 dev "$BR" nodad
	ip link set "$BR" up
	for i in $(seq 1 "$k"); do
		ip netns add "$(ns "$i")"
		ip link add "$P-v$i" type veth peer name eth0 netns "$(ns "$i")"
		ip link set "$P-v$i" master "$BR" up
		ip -n "$(ns "$i")" link set lo up
		ip -n "$(ns "$i")" addr add "$(host_ip "$i")/24" dev eth0
		! dual_stack || ip -n "$(ns "$i")" addr add "$(host_ip6 "$i")/64" dev eth0 nodad
		ip -n "$(ns "$i")" link set eth0 up
	done
	if [ -z "${LAB_NO_HEALTH:-}" ]; then
		# Peers reach node X's health IP through node X's host IP, as a CNI would.
		for i in $(seq 1 "$k"); do
			ip route add "$(health_ip "$i")/32" via "$(host_ip "$i")"
			! dual_stack || ip -6 route add "$(health_ip6 "$i")/128" via "$(host_ip6 "$i")"
			for j in $(seq 1 "$k"); do
				[ "$i" != "$j" ] || continue
				ip -n "$(ns "$j")" route add "$(health_ip "$i")/32" via "$(host_ip "$i")"
				! dual_stack || ip -n "$(ns "$j")" -6 route add "$(health_ip6 "$i")/128" via "$(host_ip6 "$i")"
			done
		done
	fi
	write_nodes "$k"
	for i in $(seq 1 "$k"); do start_node "$i"; done
	for i in $(seq 1 "$k"); do wait_metrics "$i"; done
	echo "lab: $k nodes up; metrics at http://198.18.0.N:$METRICS_PORT/metrics, state in $DIR"
}

# up_zoned K: the zoned lab (LAB_ZONES): a bridge per zone, a router
# namespace with a leg on each, the machine on each bridge.
up_zoned() {
	local k=$1 z i j zs rt="$P-rt"
	zs=$(zones)
	ip netns add "$rt"
	ip -n "$rt" link set lo up
	ip netns exec "$rt" sysctl -qw net.ipv4.ip_forward=1
	for z in $(seq 1 "$zs"); do
		ip link add "$(zone_br "$z")" type bridge
		ip addr add "198.18.$z.254/24" dev "$(zone_br "$z")"
		ip link set "$(zone_br "$z")" up
		ip link add "$P-r$z" type veth peer name "z$z" netns "$rt"
		ip link set "$P-r$z" master "$(zone_br "$z")" up
		ip -n "$rt" addr add "198.18.$z.253/24" dev "z$z"
		ip -n "$rt" link set "z$z" up
	done
	for i in $(seq 1 "$k"); do
		z=$(zone_of "$i")
		ip netns add "$(ns "$i")"
		ip link add "$P-v$i" type veth peer name eth0 netns "$(ns "$i")"
		ip link set "$P-v$i" master "$(zone_br "$z")" up
		ip -n "$(ns "$i")" link set lo up
		ip -n "$(ns "$i")" addr add "$(host_ip "$i")/24" dev eth0
		ip -n "$(ns "$i")" link set eth0 up
		# Other zones, and health IPs not routed below, through the router.
		ip -n "$(ns "$i")" route add 198.18.0.0/15 via "198.18.$z.253"
	done
	if [ -z "${LAB_NO_HEALTH:-}" ]; then
		# Node X's health IP through X's host IP: directly within X's zone
		# and from the machine, through the router from other zones.
		for i in $(seq 1 "$k"); do
			ip route add "$(health_ip "$i")/32" via "$(host_ip "$i")"
			ip -n "$rt" route add "$(health_ip "$i")/32" via "$(host_ip "$i")"
			for j in $(seq 1 "$k"); do
				[ "$i" = "$j" ] || [ "$(zone_of "$i")" != "$(zone_of "$j")" ] ||
					ip -n "$(ns "$j")" route add "$(health_ip "$i")/32" via "$(host_ip "$i")"
			done
		done
	fi
	write_nodes "$k"
	# Apart in time, so that the zones' oldest exporters are ordered
	# (process start times have a 10ms resolution): the rules name a zone
	# link after that order.
	for i in $(seq 1 "$k"); do start_node "$i"; sleep 0.05; done
	for i in $(seq 1 "$k"); do wait_metrics "$i"; done
	echo "lab: $k nodes up in $zs zones; metrics at http://$(host_ip 1):$METRICS_PORT/metrics..., state in $DIR"
}

down() {
	local k i
	k=$(nodes_up)
	for i in $(seq 1 "$k"); do stop_node "$i"; done
	nft delete table bridge "${P}_fabric" 2>/dev/null || true
	for i in $(seq 1 "$k"); do
		ip route del "$(health_ip "$i")/32" 2>/dev/null || true
		ip -6 route del "$(health_ip6 "$i")/128" 2>/dev/null || true
		# Delete the veth now: a deleted namespace is freed asynchronously,
		# and its veth would linger long enough to break the next lab.
		ip link del "$P-v$i" 2>/dev/null || true
		ip netns delete "$(ns "$i")" 2>/dev/null || true
		# The exporter removes its health netns on SIGTERM; this only
		# catches a node that had to be killed.
		ip netns delete "$P-h$i" 2>/dev/null || true
	done
	ip link del "$BR" 2>/dev/null || true
	for z in $(seq 1 "$(zones)"); do
		ip link del "$P-r$z" 2>/dev/null || true
		ip link del "$(zone_br "$z")" 2>/dev/null || true
	done
	[ "$(zones)" = 0 ] || ip netns delete "$P-rt" 2>/dev/null || true
	rm -rf "$DIR"
}

fault() {
	local name=$1 i=${2:-}
	case $name in
	forward-drop) # the node forwards nothing: its endpoints are cut off, its host is not
		ip netns exec "$(ns "$i")" nft -f - <<-NFT
			table inet lab_fault {
				chain forward { type filter hook forward priority 0; policy drop; }
			}
		NFT
		;;
	forward-drop6) # the node forwards no IPv6: its endpoints are cut off over IPv6 only
		ip netns exec "$(ns "$i")" nft -f - <<-NFT
			table ip6 lab_fault6 {
				chain forward { type filter hook forward priority 0; policy drop; }
			}
		NFT
		;;
	icmp-drop) # the fabric drops ICMP between nodes (ICMPv6 echoes too, not neighbour discovery)
		nft -f - <<-NFT
			table bridge ${P}_fabric {
				chain forward { type filter hook forward priority 0; policy accept; meta l4proto icmp drop; icmpv6 type { echo-request, echo-reply } drop; }
			}
		NFT
		;;
	cut) ip link set "$P-v$i" down ;;
	isolate) # node i exchanges nothing with other nodes; the machine still scrapes it
		local me
		me="198.18.$(zone_of "$i").254"
		ip netns exec "$(ns "$i")" nft -f - <<-NFT
			table inet lab_isolate {
				chain input { type filter hook input priority 0; policy accept; iifname "eth0" ip saddr != $me drop; }
				chain output { type filter hook output priority 0; policy accept; oifname "eth0" ip daddr != $me drop; }
				chain forward { type filter hook forward priority 0; policy accept; iifname "eth0" drop; oifname "eth0" drop; }
			}
		NFT
		;;
	zone-cut) # the router forwards nothing between zones i and $3
		local b=${3:-}
		[[ $i =~ ^[1-9]$ && $b =~ ^[1-9]$ ]] || die "zone-cut needs two zone numbers"
		ip netns exec "$P-rt" nft -f - <<-NFT
			table inet lab_zonecut_${i}_$b {
				chain forward { type filter hook forward priority 0; policy accept; iifname "z$i" oifname "z$b" drop; iifname "z$b" oifname "z$i" drop; }
			}
		NFT
		;;
	stop) stop_node "$i" ;;
	kill) kill_node "$i" ;;
	*) die "unknown fault '$name'" ;;
	esac
}

clear_fault() {
	local name=$1 i=${2:-}
	case $name in
	forward-drop) ip netns exec "$(ns "$i")" nft delete table inet lab_fault ;;
	forward-drop6) ip netns exec "$(ns "$i")" nft delete table ip6 lab_fault6 ;;
	icmp-drop) nft delete table bridge "${P}_fabric" ;;
	cut) ip link set "$P-v$i" up ;;
	isolate) ip netns exec "$(ns "$i")" nft delete table inet lab_isolate ;;
	zone-cut) ip netns exec "$P-rt" nft delete table inet "lab_zonecut_${i}_${3:-}" ;;
	start) start_node "$i" && wait_metrics "$i" ;;
	*) die "unknown fault '$name'" ;;
	esac
}

cmd=${1:-}
shift || true
case $cmd in
up) need_root up; need_tools; up "$@" ;;
down) need_root down; down ;;
fault) need_root fault; fault "$@" ;;
clear) need_root clear; clear_fault "$@" ;;
metrics) curl -fsS --max-time 5 "http://$(host_ip "$1"):$METRICS_PORT/metrics" ;;
exec) need_root exec; n=$1; shift; ip netns exec "$(ns "$n")" "$@" ;;
*) sed -n '2,35p' "$0" >&2; exit 2 ;;
esac
