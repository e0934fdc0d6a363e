// Command mixin renders the Grafana dashboards and Prometheus rules of
// connectivity_exporter from the templates under mixin/templates, for a job
// selector, a cluster label and a runbook URL of your choice:
//
//	go run ./mixin -job-selector 'job="connectivity-exporter"' -out DIR
//
// writes DIR/dashboards/*.json and DIR/rules/*.yml. The repository's
// dashboards/ and alerts/, and the Helm chart's files/, are rendered with
// the defaults by `make generate`; `make lint` runs it with -check.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and outputs passed in; it returns the exit
// code: 0 done, 1 failed or drift found, 2 bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	c := DefaultConfig()
	var l Layout
	var out string
	var check bool
	fl := flag.NewFlagSet("mixin", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&c.JobSelector, "job-selector", c.JobSelector, "label matchers, without braces, that select the exporters' series")
	fl.StringVar(&c.ClusterLabel, "cluster-label", c.ClusterLabel, "label telling clusters apart (multi-cluster Prometheus, Thanos, Mimir); kept by every aggregation and join")
	fl.StringVar(&c.RunbookURLPattern, "runbook-url-pattern", c.RunbookURLPattern, "runbook_url of every alert; %s is the alert's name in lower case")
	fl.BoolVar(&c.ShowMultiCluster, "multi-cluster", c.ShowMultiCluster, "show the dashboards' cluster variable, one cluster at a time (hidden, it stays on All)")
	fl.StringVar(&out, "out", "", "write DIR/dashboards/*.json and DIR/rules/*.yml")
	fl.StringVar(&l.Dashboards, "dashboards", "", "write the dashboards into this directory (instead of -out's)")
	fl.StringVar(&l.Rules, "rules", "", "write the rule files into this directory (instead of -out's)")
	fl.BoolVar(&check, "check", false, "write nothing; fail if the files there differ from what would be written")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./mixin [flags] -out DIR\n\nRenders connectivity_exporter's Grafana dashboards and Prometheus rules.\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "mixin: unexpected arguments %q\n", fl.Args())
		return 2
	}
	if out != "" {
		if l.Dashboards == "" {
			l.Dashboards = filepath.Join(out, "dashboards")
		}
		if l.Rules == "" {
			l.Rules = filepath.Join(out, "rules")
		}
	}
	if l.Dashboards == "" || l.Rules == "" {
		fmt.Fprintln(stderr, "mixin: say where to write: -out DIR, or both -dashboards DIR and -rules DIR")
		return 2
	}
	if err := c.Validate(); err != nil {
		fmt.Fprintf(stderr, "mixin: %v\n", err)
		return 2
	}
	files, err := Render(c)
	if err != nil {
		fmt.Fprintf(stderr, "mixin: %v\n", err)
		return 1
	}
	if check {
		drift, err := Drift(l, files)
		if err == nil && len(drift) > 0 {
			err = driftError(drift)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mixin: %v\n", err)
			return 1
		}
		return 0
	}
	if err := Write(l, files); err != nil {
		fmt.Fprintf(stderr, "mixin: %v\n", err)
		return 1
	}
	for _, f := range files {
		fmt.Fprintln(stdout, filepath.Join(l.dir(f.Kind), f.Name))
	}
	return 0
}
