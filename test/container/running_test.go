package container

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// checkRunning checks the container's process as the kernel sees it:
// its uid, that its bounding set holds no capability the manifest does
// not add (the exporter drops some itself once set up, so fewer is
// fine), no_new_privs where asked for, and a read-only root. It proves the flags took
// effect, not only that they were passed.
func checkRunning(t *testing.T, p *podman, name, id string, want runAs) {
	t.Helper()
	var pid string
	deadline := time.Now().Add(10 * time.Second)
	for {
		state := p.mustRun(10*time.Second, "inspect", "--format", "{{.State.Status}} {{.State.Pid}}", id)
		status, pidStr, _ := strings.Cut(state, " ")
		if status == "running" && pidStr != "0" {
			pid = pidStr
			break
		}
		if status != "created" && status != "running" {
			t.Fatalf("%s container is %s, not running", name, status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s container not running after 10s: %s", name, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	field := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + key + `:\s*(.*)$`).FindSubmatch(status)
		if m == nil {
			t.Fatalf("%s: no %s in /proc/%s/status", name, key, pid)
		}
		return string(m[1])
	}
	uid := want.uid
	if uid < 0 {
		uid = imageUID
	}
	// Real, effective, saved and filesystem uid.
	for _, got := range strings.Fields(field("Uid")) {
		if got != strconv.Itoa(uid) {
			t.Errorf("%s runs as uids %s, want %d", name, field("Uid"), uid)
			break
		}
	}
	if want.gid >= 0 {
		if got := strings.Fields(field("Gid")); got[0] != strconv.Itoa(want.gid) {
			t.Errorf("%s runs as gid %v, want %d", name, got, want.gid)
		}
	}
	bound, err := strconv.ParseUint(field("CapBnd"), 16, 64)
	if err != nil {
		t.Fatalf("%s: CapBnd: %v", name, err)
	}
	var allowed uint64
	for _, c := range want.caps {
		v, err := cap.FromName("cap_" + strings.ToLower(c))
		if err != nil {
			t.Fatalf("%s: capability %s: %v", name, c, err)
		}
		allowed |= 1 << uint(v)
	}
	if extra := bound &^ allowed; extra != 0 {
		t.Errorf("%s has capabilities %s in its bounding set, beyond the manifest's %v", name, capNames(extra), want.caps)
	}
	// The daemon sets no_new_privs itself once set up, so only its
	// absence is an error, where the manifest asks for it.
	if want.noNewPrivs && field("NoNewPrivs") != "1" {
		t.Errorf("%s: no_new_privs is off; the manifest sets allowPrivilegeEscalation: false", name)
	}
	mounts, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got := rootReadOnly(string(mounts)); got != want.readOnly {
		t.Errorf("%s: read-only root %v, want %v", name, got, want.readOnly)
	}
}

// rootReadOnly says whether the mount at / in a mountinfo is read-only
// (the last one there wins: it is the one on top).
func rootReadOnly(mountinfo string) bool {
	ro := false
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			ro = slices.Contains(strings.Split(f[5], ","), "ro")
		}
	}
	return ro
}

func capNames(set uint64) string {
	var out []string
	for v := cap.Value(0); v < 64; v++ {
		if set&(1<<uint(v)) != 0 {
			out = append(out, fmt.Sprint(v))
		}
	}
	return strings.Join(out, ",")
}
