package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// stateFile is in the cluster's directory and names everything the cluster
// made outside it, so that Teardown works from the directory alone: after a
// crash, or from another process (make cluster-down).
const stateFile = "cluster.json"

// state is what Teardown needs to find a cluster's pieces.
type state struct {
	ID      string    `json:"id"`
	Dir     string    `json:"dir"`
	Started time.Time `json:"started"`
	// Netns are the network namespaces' names (fabric, control plane, nodes).
	Netns []string `json:"netns"`
	// Cgroup is the cgroup v1 directory (in every controller) and the
	// cgroup v2 one under which the kubelets put their pods.
	Cgroup string `json:"cgroup"`
	// CNINetwork names the CNI network: libcni's cache files in
	// /var/lib/cni/results start with it.
	CNINetwork string `json:"cni_network"`
	DualStack  bool   `json:"dual_stack"`
	// Nodes are the node names by index.
	Nodes map[string]int `json:"nodes"`
	// Owner is the PID of the test process whose cluster this is, or 0
	// for one meant to outlive its maker (make cluster-up). A cluster
	// whose owner is gone was left by a killed test (a -timeout panic
	// runs no cleanup): SweepOrphans removes it.
	Owner int `json:"owner"`
}

func (s *state) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, stateFile))
}

func loadState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", stateFile, err)
	}
	if s.Dir != dir {
		return nil, fmt.Errorf("%s names %s, not %s", stateFile, s.Dir, dir)
	}
	return &s, nil
}

// SweepOrphans tears down every cluster under base whose owner process is
// gone, and returns the directories it removed.
func SweepOrphans(base string) ([]string, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		s, err := loadState(dir)
		if err != nil || s.Owner == 0 || syscall.Kill(s.Owner, 0) == nil {
			continue
		}
		if err := Teardown(dir); err != nil {
			errs = append(errs, fmt.Errorf("orphaned cluster %s: %w", dir, err))
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}

// netnsName is the namespace name of a part of cluster id ("fabric", "cp" or
// a node's name).
func netnsName(id, part string) string { return "cx-" + id + "-" + part }
