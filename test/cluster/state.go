package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

// netnsName is the namespace name of a part of cluster id ("fabric", "cp" or
// a node's name).
func netnsName(id, part string) string { return "cx-" + id + "-" + part }
