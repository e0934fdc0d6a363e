// Package release tests what a release publishes: `make release`'s
// tarballs, checksums and multi-arch image, and the version a plain
// `go build` reports.
package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const (
	binary = "connectivity_exporter"
	// testVersion is what the test's release is called.
	testVersion = "0.0.0-releasetest"
	// buildDateLayout is how make stamps the build date (promu's layout).
	buildDateLayout = "20060102-15:04:05"
)

// The whole of `make release` on this checkout, with the image on scratch
// (no registry here): both tarballs with what they should hold, checksums
// that verify, binaries of the right architecture stamped from git, and a
// manifest list with both platforms.
func TestMakeRelease(t *testing.T) {
	testbin.SkipShort(t, "cross-builds two binaries and two images")
	testbin.NeedRoot(t, "podman builds and stores the images as root")
	testbin.NeedTool(t, "podman", "apt-get install -y podman runc")
	testbin.NeedTool(t, "make", "apt-get install -y make")
	testbin.NeedTool(t, "git", "apt-get install -y git")
	root := testbin.RepoRoot()
	dist := t.TempDir()
	image := fmt.Sprintf("localhost/cx-release-test-%d", os.Getpid())
	t.Cleanup(func() { removeImages(t, image) })

	start := time.Now()
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "release",
		"VERSION="+testVersion, "DIST="+dist, "IMAGE="+image, "BASE=scratch")
	cmd.Env = withoutEnv(os.Environ(), "SOURCE_DATE_EPOCH", "VERSION", "REVISION", "BRANCH", "BUILD_DATE")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	t.Logf("make release took %s", time.Since(start).Round(time.Second))

	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	tarballs := map[string]string{}
	for arch := range want {
		tarballs[arch] = fmt.Sprintf("%s-%s.linux-%s.tar.gz", binary, testVersion, arch)
	}
	checkSums(t, dist, slices.Collect(maps.Values(tarballs)))

	revision := git(t, root, "rev-parse", "HEAD")
	branch := git(t, root, "rev-parse", "--abbrev-ref", "HEAD")
	commitTime, err := strconv.ParseInt(git(t, root, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	buildDate := time.Unix(commitTime, 0).UTC().Format(buildDateLayout)
	for arch, machine := range want {
		t.Run(arch, func(t *testing.T) {
			path := filepath.Join(dist, tarballs[arch])
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %.1f MiB", tarballs[arch], float64(info.Size())/(1<<20))
			bin := unpack(t, path, strings.TrimSuffix(tarballs[arch], ".tar.gz"))
			checkELF(t, bin, machine)
			if arch != runtime.GOARCH {
				return
			}
			out, err := exec.Command(bin, "--version").CombinedOutput()
			if err != nil {
				t.Fatalf("%s --version: %v\n%s", arch, err, out)
			}
			for _, w := range []string{
				binary + ", version " + testVersion + " (branch: " + branch + ", revision: " + revision + ")",
				"build date:       " + buildDate,
				"platform:         linux/" + arch,
			} {
				if !strings.Contains(string(out), w) {
					t.Errorf("--version lacks %q:\n%s", w, out)
				}
			}
		})
	}
	checkManifest(t, image+":"+testVersion, []string{"linux/amd64", "linux/arm64"})
}

// checkSums verifies sha256sums.txt as `sha256sum -c` would, and that it
// lists exactly the tarballs.
func checkSums(t *testing.T, dist string, tarballs []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dist, "sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("sha256sums.txt: line %q is not \"<sum>  <file>\"", sc.Text())
		}
		listed = append(listed, name)
		content, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(content)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("sha256sums.txt: %s has sum %x, listed %s", name, got, sum)
		}
	}
	slices.Sort(listed)
	slices.Sort(tarballs)
	if !slices.Equal(listed, tarballs) {
		t.Errorf("sha256sums.txt lists %q, want %q", listed, tarballs)
	}
}

// unpack checks that the tarball holds one directory, dir, with the
// binary, LICENSE, README.md and the examples, and returns the binary,
// written out.
func unpack(t *testing.T, path, dir string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	found := map[string]bool{}
	bin := filepath.Join(t.TempDir(), binary)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name != dir && !strings.HasPrefix(name, dir+"/") {
			t.Errorf("%s: %s is outside %s/", path, h.Name, dir)
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, dir), "/")
		found[rel] = true
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s is owned by %d:%d, want 0:0", path, h.Name, h.Uid, h.Gid)
		}
		if rel == binary {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s: %s is not executable (mode %o)", path, h.Name, h.Mode)
			}
			out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{binary, "LICENSE", "README.md", "examples/nodes.yaml",
		"examples/systemd/connectivity_exporter.service", "examples/systemd/connectivity_exporter.socket"} {
		if !found[want] {
			t.Errorf("%s lacks %s/%s", path, dir, want)
		}
	}
	return bin
}

// checkELF: an executable for machine, static (no program interpreter), as
// CGO_ENABLED=0 builds it.
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s is %s %s, want %s %s", path, f.Type, f.Machine, elf.ET_EXEC, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is not static", path)
		}
	}
}

// checkManifest: the manifest list has one image of each platform.
func checkManifest(t *testing.T, list string, platforms []string) {
	t.Helper()
	out, err := exec.Command("podman", "manifest", "inspect", list).Output()
	if err != nil {
		t.Fatalf("podman manifest inspect %s: %v", list, err)
	}
	var m struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("podman manifest inspect %s: %v\n%s", list, err, out)
	}
	var got []string
	digests := map[string]bool{}
	for _, e := range m.Manifests {
		got = append(got, e.Platform.OS+"/"+e.Platform.Architecture)
		digests[e.Digest] = true
	}
	slices.Sort(got)
	if !slices.Equal(got, platforms) || len(digests) != len(platforms) {
		t.Errorf("manifest list %s has %q (%d distinct images), want %q", list, got, len(digests), platforms)
	}
}

func removeImages(t *testing.T, image string) {
	// What exists of them: a failed release may have made only some.
	if exec.Command("podman", "manifest", "exists", image+":"+testVersion).Run() == nil {
		if out, err := exec.Command("podman", "manifest", "rm", image+":"+testVersion).CombinedOutput(); err != nil {
			t.Errorf("removing the manifest list: %v\n%s", err, out)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		tag := image + ":" + testVersion + "-" + arch
		if exec.Command("podman", "image", "exists", tag).Run() == nil {
			if out, err := exec.Command("podman", "rmi", "--force", tag).CombinedOutput(); err != nil {
				t.Errorf("removing %s: %v\n%s", tag, err, out)
			}
		}
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// withoutEnv is env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}
