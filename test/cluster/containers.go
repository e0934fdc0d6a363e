package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ContainerPID is the PID (in this PID namespace) of the first process of
// the container whose status says containerID ("containerd://<id>" or
// "<id>"): the process the kubelet's securityContext applies to, found by
// the container's cgroup, which ends in its id.
func ContainerPID(containerID string) (int, error) {
	_, id, found := strings.Cut(containerID, "://")
	if !found {
		id = containerID
	}
	if len(id) < 12 {
		return 0, fmt.Errorf("container id %q too short", containerID)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	in := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if err == nil && strings.Contains(string(data), id) {
			in[pid] = true
		}
	}
	for pid := range in {
		ppid, err := parentPID(pid)
		if err == nil && !in[ppid] {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process of container %s", id)
}

func parentPID(pid int) (int, error) {
	status, err := ProcStatus(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(status["PPid"])
}

// ProcStatus is /proc/PID/status as a map (Uid, CapBnd, NoNewPrivs, ...).
func ProcStatus(pid int) (map[string]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, nil
}

// RootReadOnly reports whether the root filesystem of process pid is
// mounted read-only.
func RootReadOnly(pid int) (bool, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return false, err
	}
	ro := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			// The last mount on / is the one in effect.
			ro = strings.Contains(","+f[5]+",", ",ro,")
		}
	}
	return ro, nil
}
