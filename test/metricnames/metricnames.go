// Package metricnames tells which metric names the exporter exposes, read
// from the collector's golden files (collector/testdata/*.prom), and which
// ones a PromQL expression selects, so that the dashboards and the rules are
// checked against what the collector really exposes, not a list kept by hand.
package metricnames

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Exposed returns every name a scrape of the exporter can hold: each family
// of the golden files, with _bucket, _sum and _count for histograms and
// _sum and _count for summaries.
func Exposed() (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(testbin.RepoRoot(), "collector", "testdata", "*.prom"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no golden file (collector/testdata/*.prom) found")
	}
	names := map[string]bool{}
	for _, file := range files {
		if err := addFamilies(file, names); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// addFamilies adds the names of the families of the text exposition in file.
func addFamilies(file string, names map[string]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// # TYPE <name> <type>
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 || fields[0] != "#" || fields[1] != "TYPE" {
			continue
		}
		name := fields[2]
		names[name] = true
		switch fields[3] {
		case "histogram":
			names[name+"_bucket"] = true
			names[name+"_sum"], names[name+"_count"] = true, true
		case "summary":
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// metricName matches metric names (recorded ones with colons included),
// followed by a selector or a range.
var metricName = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\s*[{\[]`)

// Selected returns the metric names expr selects, sorted, each once.
func Selected(expr string) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range metricName.FindAllStringSubmatch(expr, -1) {
		n := m[1]
		switch n {
		case "by", "without", "on", "ignoring", "group_left", "group_right":
			continue
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
