// Package alerts holds the Prometheus alerting and recording rules of
// connectivity_exporter, as plain YAML for Prometheus' rule_files, with
// promtool unit tests under tests/.
//
// The rules select the exporters by job="connectivity": scrape them with a
// job of that name (see examples/prometheus.yml).
package alerts

import "embed"

// Files holds connectivity-alerts.yml and connectivity-rules.yml, for
// programs and tests that load the rules without a checkout.
//
//go:embed connectivity-alerts.yml connectivity-rules.yml
var Files embed.FS

// Rule file names in Files.
const (
	AlertsFile = "connectivity-alerts.yml"
	RulesFile  = "connectivity-rules.yml"
)

// Job is the value of the job label the rules select.
const Job = "connectivity"
