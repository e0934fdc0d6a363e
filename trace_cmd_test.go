package main

import (
	"path/filepath"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
)

// The trace command's arguments are checked before the daemon is asked,
// and a missing daemon is exit code 3, as for status.
func TestTraceCommandExitCodes(t *testing.T) {
	sock := "--admin.socket=" + filepath.Join(t.TempDir(), "admin.sock")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no node", []string{"trace", sock}, exitcode.Usage},
		{"too many flows", []string{"trace", "node-2", "--flows=65", sock}, exitcode.Usage},
		{"negative flows", []string{"trace", "node-2", "--flows=-1", sock}, exitcode.Usage},
		{"bad output", []string{"trace", "node-2", "-o", "yaml", sock}, exitcode.Usage},
		{"no daemon", []string{"trace", "node-2", "--flows=8", sock}, exitcode.Unreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Errorf("%v: exit %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}
