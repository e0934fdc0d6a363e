// Command cxbench measures connectivity_exporter's probing cost next to
// fping, smokeping_prober and blackbox_exporter, on peers simulated in
// network namespaces, and writes the figures into BENCHMARKS.md.
//
//	cxbench run -exporter ./connectivity_exporter -out BENCHMARKS.md   (root)
//
// run builds two namespaces: cxb-prober, where every prober runs, and
// cxb-peers, where 198.18.128.0/17 is local (32k addresses answering ICMP,
// and /hello on :4240 through a passive exporter), joined by a veth pair on
// 198.18.127.0/30. Nothing is added to the root namespace, and both
// namespaces are removed at the end, also on failure or Ctrl-C. Every
// scenario is bounded in time, and so is the whole run.
//
// The other subcommands are its parts: inner (the scenarios, run inside
// cxb-prober), probe (the exporter's probing core on its own) and figures
// (peer selection and series counts, no network).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cxbench run|inner|probe|figures [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runMain(os.Args[2:])
	case "inner":
		err = innerMain(os.Args[2:])
	case "probe":
		err = probeMain(os.Args[2:])
	case "exec":
		err = execMain(os.Args[2:])
	case "figures":
		err = figuresMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cxbench:", err)
		os.Exit(1)
	}
}
