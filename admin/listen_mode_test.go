package admin

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The socket file must never be connectable by others, not even in the
// moment between bind and chmod, whatever the umask. The umask is process
// wide: these tests must not run in parallel with others creating files.
func TestSocketModeFromTheStart(t *testing.T) {
	for _, tc := range []struct {
		name      string
		umask     int
		wantBorn  os.FileMode // right after bind, before Listen's chmod
		wantFinal os.FileMode
	}{
		{"umask 0 (some containers)", 0, 0o660, 0o660},
		{"umask 022 (usual)", 0o022, 0o640, 0o660},
		{"umask 077", 0o077, 0o600, 0o660},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := syscall.Umask(tc.umask)
			born := filepath.Join(dir, "born.sock")
			ln, err := listenRestricted(born)
			final := filepath.Join(dir, "final.sock")
			ln2, err2 := Listen(final)
			syscall.Umask(old)
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
			defer ln.Close()
			defer ln2.Close()
			for _, c := range []struct {
				path string
				want os.FileMode
			}{{born, tc.wantBorn}, {final, tc.wantFinal}} {
				fi, err := os.Stat(c.path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != c.want {
					t.Errorf("%s: mode %v, want socket %v", filepath.Base(c.path), fi.Mode(), c.want)
				}
			}
		})
	}
}
