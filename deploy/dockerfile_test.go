// Package deploy holds no code. The image is built and run for real by
// test/container; these tests read the Dockerfile and check what holds
// for every base image: it copies the binary `make build` makes (static,
// so any base works), its entrypoint is that binary, its ports are the
// DaemonSet's, and .dockerignore sends only what it copies.
package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

const root = ".."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, COPY, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// copySources is every COPY of the Dockerfile as source -> destination.
func copySources(t *testing.T, ins []instruction) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, in := range ins {
		if in.cmd != "COPY" {
			continue
		}
		w := strings.Fields(in.args)
		if len(w) != 2 || strings.HasPrefix(w[0], "--") {
			t.Fatalf("COPY %s: want plain `COPY source destination` (no build stage, no flags)", in.args)
		}
		out[w[0]] = w[1]
	}
	return out
}

// makeVars reads the Makefile's simple variable assignments (NAME := v,
// NAME ?= v, NAME = v, with continuation lines).
func makeVars(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(data), " ")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+)\s*[:?]?=\s*(.*)$`).FindAllStringSubmatch(text, -1) {
		vars[m[1]] = strings.TrimSpace(m[2])
	}
	return vars
}

// makeRecipe is the recipe of a Makefile target, its lines joined.
func makeRecipe(t *testing.T, target string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:[^\n]*\n((?:\t[^\n]*\n)*)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("Makefile: no target %s", target)
	}
	return string(m[1])
}

func TestDockerfileCopiesTheMakeBuildBinary(t *testing.T) {
	ins := readDockerfile(t)
	vars := makeVars(t)
	binary := vars["BINARY"]
	if binary == "" {
		t.Fatal("Makefile: no BINARY variable (what `make build` writes)")
	}
	if !strings.Contains(makeRecipe(t, "build"), "-o $(BINARY)") {
		t.Errorf("`make build` does not write $(BINARY) (%s), which the Dockerfile copies", binary)
	}
	// Static, or a base without libc (scratch, distroless/static) cannot run it.
	if !slices.Contains(strings.Fields(vars["BUILD"]), "CGO_ENABLED=0") {
		t.Errorf("Makefile BUILD %q: want CGO_ENABLED=0, a static binary for any base image", vars["BUILD"])
	}
	if r := makeRecipe(t, "image"); !strings.Contains(r, "--build-arg BASE=$(BASE)") {
		t.Errorf("`make image` recipe %q does not pass --build-arg BASE=$(BASE)", r)
	}

	var froms []string
	args := map[string]string{} // ARG name -> default, those before FROM
	var expose, entrypoint, user string
	for _, in := range ins {
		switch in.cmd {
		case "ARG":
			if len(froms) == 0 {
				name, def, _ := strings.Cut(in.args, "=")
				args[name] = def
			}
		case "FROM":
			froms = append(froms, in.args)
		case "RUN":
			t.Errorf("RUN %s: the image only copies what `make build` made; build steps belong in the Makefile", in.args)
		case "EXPOSE":
			expose = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "USER":
			user = in.args
		}
	}
	if !slices.Equal(froms, []string{"${BASE}"}) {
		t.Errorf("FROM %v: want exactly one, FROM ${BASE}", froms)
	}
	if def := args["BASE"]; def == "" {
		t.Error("no ARG BASE=<default image> before FROM")
	} else if !strings.HasPrefix(def, "gcr.io/distroless/static") {
		t.Errorf("ARG BASE=%s: want a static distroless default (the binary needs no libc)", def)
	}

	copies := copySources(t, ins)
	dest, ok := copies[binary]
	if !ok {
		t.Fatalf("the Dockerfile does not COPY %s (the Makefile's BINARY); COPY lines: %v", binary, copies)
	}
	if want := `["` + dest + `"]`; entrypoint != want {
		t.Errorf("ENTRYPOINT %s, want %s: the copied binary, exec form (so SIGTERM reaches the daemon)", entrypoint, want)
	}
	// Numeric, so that it needs no /etc/passwd: scratch has none.
	if !regexp.MustCompile(`^\d+(:\d+)?$`).MatchString(user) {
		t.Errorf("USER %q: want a numeric uid[:gid], which works on any base", user)
	}

	// EXPOSE lists the ports the exporter DaemonSet's container has.
	data, err := os.ReadFile(filepath.Join("kubernetes", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.Unmarshal(data, &ds); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range ds.Spec.Template.Spec.Containers[0].Ports {
		want = append(want, strconv.Itoa(int(p.ContainerPort)))
	}
	if got := strings.Fields(expose); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("EXPOSE %v, the DaemonSet's container ports %v", got, want)
	}
}

// ignorePattern is one line of .dockerignore.
type ignorePattern struct {
	glob    string
	include bool // a "!" exception
}

func readDockerignore(t *testing.T) []ignorePattern {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var out []ignorePattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		include := strings.HasPrefix(line, "!")
		glob := strings.Trim(filepath.Clean(strings.TrimPrefix(line, "!")), "/")
		if strings.Contains(glob, "**") {
			t.Fatalf(".dockerignore: %q: this test does not understand **; extend it", line)
		}
		out = append(out, ignorePattern{glob, include})
	}
	return out
}

// ignored says whether the builder leaves path out of the context, as
// Docker decides it: the last pattern that matches the path or one of its
// parents wins.
func ignored(patterns []ignorePattern, path string) bool {
	out := false
	for _, p := range patterns {
		for q := path; q != "." && q != "/"; q = filepath.Dir(q) {
			if ok, _ := filepath.Match(p.glob, q); ok {
				out = !p.include
				break
			}
		}
	}
	return out
}

// TestDockerignoreSendsOnlyWhatIsCopied: every file the Dockerfile copies
// reaches the builder, and the sources, .git and tests do not (a small,
// fast context that cannot leak anything into a layer).
func TestDockerignoreSendsOnlyWhatIsCopied(t *testing.T) {
	patterns := readDockerignore(t)
	for src := range copySources(t, readDockerfile(t)) {
		if ignored(patterns, src) {
			t.Errorf(".dockerignore leaves out %s, which the Dockerfile copies", src)
		}
	}
	for _, path := range []string{".git/config", "go.mod", "main.go", "prober/scheduler.go", "test/e2e/lab_test.go", "deploy/kubernetes/daemonset.yaml", "connectivity_exporter.test"} {
		if !ignored(patterns, path) {
			t.Errorf(".dockerignore sends %s to the builder, which the image does not need", path)
		}
	}
}

func TestIgnored(t *testing.T) {
	patterns := []ignorePattern{{"*", false}, {"keep", true}, {"dir/sub", true}, {"dir/sub/drop", false}}
	for path, want := range map[string]bool{
		"main.go":        true,
		"keep":           false,
		"keep/inside":    false,
		"dir/other":      true,
		"dir/sub/file":   false,
		"dir/sub/drop":   true,
		"dir/sub/drop/x": true,
	} {
		if got := ignored(patterns, path); got != want {
			t.Errorf("ignored(%s) = %v, want %v", path, got, want)
		}
	}
}
