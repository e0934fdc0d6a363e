package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Config says how the rules and dashboards select the exporters and which
// label tells clusters apart, in the way of node-mixin's and
// kubernetes-mixin's config.libsonnet.
type Config struct {
	// JobSelector is the label matchers, without braces, that select the
	// exporters' series in every rule and query: `job="connectivity"`.
	JobSelector string
	// ClusterLabel is the label that tells clusters apart in a Prometheus,
	// Thanos or Mimir holding several: every aggregation and join of the
	// rules keeps it, and the dashboards filter on it with $cluster. A
	// setup without it loses nothing: the label is then simply absent.
	ClusterLabel string
	// RunbookURLPattern is the runbook_url of every alert, with %s standing
	// for the alert's name in lower case (a Markdown heading's anchor).
	RunbookURLPattern string
	// ShowMultiCluster shows the dashboards' cluster variable, one cluster
	// at a time; hidden, it stays on All.
	ShowMultiCluster bool
}

// DefaultConfig is the configuration of the files in the repository: the job
// of examples/prometheus.yml and the runbooks of docs/runbooks.md.
func DefaultConfig() Config {
	return Config{
		JobSelector:       `job="connectivity"`,
		ClusterLabel:      "cluster",
		RunbookURLPattern: "https://github.com/connectivity-exporter/connectivity_exporter/blob/main/docs/runbooks.md#%s",
	}
}

var (
	// One matcher, as PromQL writes it inside braces.
	matcher    = `\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\\n]|\\.)*"\s*`
	selectorRE = regexp.MustCompile(`^` + matcher + `(,` + matcher + `)*$`)
	labelRE    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	var errs []error
	if !selectorRE.MatchString(c.JobSelector) {
		errs = append(errs, fmt.Errorf("job selector %q: want label matchers without braces, such as job=\"connectivity\" or job=~\"connectivity|cx\"", c.JobSelector))
	} else if strings.Contains(c.JobSelector, "{{") || strings.Contains(c.JobSelector, "<%") {
		errs = append(errs, fmt.Errorf("job selector %q: must not hold template delimiters", c.JobSelector))
	}
	if !labelRE.MatchString(c.ClusterLabel) {
		errs = append(errs, fmt.Errorf("cluster label %q: want a Prometheus label name", c.ClusterLabel))
	}
	switch {
	case strings.Count(c.RunbookURLPattern, "%s") != 1 || strings.Count(c.RunbookURLPattern, "%") != 1:
		errs = append(errs, fmt.Errorf("runbook URL pattern %q: want exactly one %%s (the alert's name in lower case) and no other %%", c.RunbookURLPattern))
	case strings.ContainsAny(c.RunbookURLPattern, " \t\n\"'\\"):
		errs = append(errs, fmt.Errorf("runbook URL pattern %q: must not hold spaces, quotes or backslashes", c.RunbookURLPattern))
	}
	return errors.Join(errs...)
}

// RunbookURL is the runbook_url of the alert named alert.
func (c Config) RunbookURL(alert string) string {
	return fmt.Sprintf(c.RunbookURLPattern, strings.ToLower(alert))
}
