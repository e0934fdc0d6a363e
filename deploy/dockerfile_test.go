// Package deploy holds no code: no Docker engine runs where the tests run,
// so the Dockerfile cannot be built there. These tests read it instead and
// keep it in step with what can be checked: the Makefile's build (the same
// flags, so `make build` and the image make the same binary), go.mod's Go
// version, the DaemonSet's ports and the packages .dockerignore must keep.
package deploy

import (
	"maps"
	"os"
	"os/exec"
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
	cmd  string // upper case: FROM, RUN, ...
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

// words splits a shell command line at spaces outside double quotes and
// removes the quotes; enough for a build command, which is all it reads.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// buildCommand is a `go build` command line taken apart.
type buildCommand struct {
	env     map[string]string // VAR=value before the command
	flags   []string          // build flags other than -ldflags and -o
	ldflags []string          // the words of -ldflags
	output  string            // -o
	pkgs    []string
}

func parseBuild(t *testing.T, where, line string) buildCommand {
	t.Helper()
	w := words(line)
	b := buildCommand{env: map[string]string{}}
	i := 0
	for ; i < len(w) && strings.Contains(w[i], "="); i++ {
		k, v, _ := strings.Cut(w[i], "=")
		b.env[k] = v
	}
	if i+1 >= len(w) || w[i] != "go" || w[i+1] != "build" {
		t.Fatalf("%s: not a go build command: %q", where, line)
	}
	for i += 2; i < len(w); i++ {
		switch {
		case w[i] == "-ldflags" && i+1 < len(w):
			i++
			b.ldflags = words(w[i])
		case w[i] == "-o" && i+1 < len(w):
			i++
			b.output = w[i]
		case strings.HasPrefix(w[i], "-"):
			b.flags = append(b.flags, w[i])
		default:
			b.pkgs = append(b.pkgs, w[i])
		}
	}
	return b
}

// versionVars maps each -X variable (package.Name) to its value.
func versionVars(t *testing.T, where string, ldflags []string) (vars map[string]string, other []string) {
	t.Helper()
	vars = map[string]string{}
	for i := 0; i < len(ldflags); i++ {
		if ldflags[i] != "-X" {
			other = append(other, ldflags[i])
			continue
		}
		if i+1 == len(ldflags) {
			t.Fatalf("%s: -X without a value", where)
		}
		i++
		k, v, _ := strings.Cut(ldflags[i], "=")
		vars[k] = v
	}
	return vars, other
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

// expand replaces $(NAME) by the Makefile variable, recursively; GO is
// taken as plain "go" (the Makefile lets it be overridden), and variables
// computed by $(shell ...) (the version) stay as they are.
func expand(vars map[string]string, s string) string {
	re := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	for range 10 {
		next := re.ReplaceAllStringFunc(s, func(ref string) string {
			name := re.FindStringSubmatch(ref)[1]
			switch v := vars[name]; {
			case name == "GO":
				return "go"
			case strings.Contains(v, "$(shell"):
				return "<" + name + ">"
			default:
				return v
			}
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

func TestDockerfileBuildMatchesMakefile(t *testing.T) {
	ins := readDockerfile(t)
	var run string
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			if run != "" {
				t.Fatal("more than one go build in the Dockerfile")
			}
			run = in.args
		}
	}
	if run == "" {
		t.Fatal("no RUN ... go build in the Dockerfile")
	}
	docker := parseBuild(t, "Dockerfile", run)
	vars := makeVars(t)
	if vars["BUILD"] == "" {
		t.Fatal("Makefile: no BUILD variable (the build command of `make build`)")
	}
	mk := parseBuild(t, "Makefile BUILD", expand(vars, vars["BUILD"]))

	for k, v := range mk.env {
		if docker.env[k] != v {
			t.Errorf("Dockerfile build has %s=%q, the Makefile %s=%q", k, docker.env[k], k, v)
		}
	}
	if docker.env["CGO_ENABLED"] != "0" {
		t.Error("the Dockerfile must build with CGO_ENABLED=0: the runtime image is distroless/static")
	}
	if !slices.Equal(slices.Sorted(slices.Values(docker.flags)), slices.Sorted(slices.Values(mk.flags))) {
		t.Errorf("build flags: Dockerfile %v, Makefile %v", docker.flags, mk.flags)
	}
	if !slices.Contains(docker.flags, "-trimpath") {
		t.Error("the Dockerfile must build with -trimpath")
	}
	if !slices.Equal(docker.pkgs, []string{"."}) {
		t.Errorf("Dockerfile builds %v, want .", docker.pkgs)
	}

	dx, dOther := versionVars(t, "Dockerfile", docker.ldflags)
	mx, mOther := versionVars(t, "Makefile", mk.ldflags)
	if !slices.Equal(slices.Sorted(maps.Keys(dx)), slices.Sorted(maps.Keys(mx))) {
		t.Errorf("-X variables: Dockerfile %v, Makefile %v", slices.Sorted(maps.Keys(dx)), slices.Sorted(maps.Keys(mx)))
	}
	// -s -w (strip symbols) is the one difference allowed: it shrinks the
	// image; `make build` keeps symbols for local debugging.
	for _, f := range dOther {
		if f != "-s" && f != "-w" && !slices.Contains(mOther, f) {
			t.Errorf("Dockerfile -ldflags has %s, which the Makefile does not", f)
		}
	}
	for _, f := range mOther {
		if !slices.Contains(dOther, f) {
			t.Errorf("Makefile -ldflags has %s, which the Dockerfile does not", f)
		}
	}
	const vpkg = "github.com/prometheus/common/version."
	args := dockerArgs(ins)
	for name, arg := range map[string]string{"Version": "VERSION", "Revision": "REVISION"} {
		v, ok := dx[vpkg+name]
		if !ok {
			t.Errorf("Dockerfile does not set %s%s", vpkg, name)
			continue
		}
		if v != "${"+arg+"}" && v != "$"+arg {
			t.Errorf("Dockerfile sets %s%s=%s, want it from the build argument %s", vpkg, name, v, arg)
		}
		if !args[arg] {
			t.Errorf("Dockerfile uses ${%s} but declares no ARG %s before the build", arg, arg)
		}
	}
	if docker.output != "/connectivity_exporter" {
		t.Errorf("Dockerfile builds to %q, want /connectivity_exporter (the ENTRYPOINT)", docker.output)
	}
}

// dockerArgs is the set of ARG names declared anywhere in the Dockerfile.
func dockerArgs(ins []instruction) map[string]bool {
	args := map[string]bool{}
	for _, in := range ins {
		if in.cmd == "ARG" {
			name, _, _ := strings.Cut(in.args, "=")
			args[name] = true
		}
	}
	return args
}

func TestDockerfileStages(t *testing.T) {
	ins := readDockerfile(t)
	var froms []string
	var expose, entrypoint, user string
	copied := false
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			var image string
			for _, w := range strings.Fields(in.args) {
				if !strings.HasPrefix(w, "--") {
					image = w
					break
				}
			}
			froms = append(froms, image)
		case "EXPOSE":
			expose = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "USER":
			user = in.args
		case "COPY":
			if strings.HasPrefix(in.args, "--from=") && strings.HasSuffix(in.args, " /connectivity_exporter") {
				copied = true
			}
		}
	}
	if len(froms) != 2 {
		t.Fatalf("stages %v: want a golang builder and a distroless runtime", froms)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod: no go directive")
	}
	if want := "golang:" + string(goVersion[1]); froms[0] != want && !strings.HasPrefix(froms[0], want+".") && !strings.HasPrefix(froms[0], want+"-") {
		t.Errorf("builder %s, want %s (go.mod says go %s)", froms[0], want, goVersion[1])
	}
	if !strings.HasPrefix(froms[1], "gcr.io/distroless/static-debian") {
		t.Errorf("runtime %s, want gcr.io/distroless/static-debian*", froms[1])
	}
	if !copied {
		t.Error("no COPY --from=<builder> ... /connectivity_exporter into the runtime")
	}
	if entrypoint != `["/connectivity_exporter"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/connectivity_exporter\"] (exec form, so SIGTERM reaches the daemon)", entrypoint)
	}
	if user != "0:0" && user != "0" && user != "root" {
		t.Errorf("USER %q: the daemon needs root for network namespaces", user)
	}

	// EXPOSE lists the ports the DaemonSet's container has.
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

// TestDockerignoreKeepsBuildInputs makes sure .dockerignore leaves every
// file the binary is built from in the build context: the packages it
// imports from this module, their embedded files, go.mod and go.sum.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exception %q: this test does not understand exceptions; extend it", line)
		}
		patterns = append(patterns, strings.Trim(filepath.Clean(line), "/"))
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}\n{{range .EmbedFiles}}{{$.Dir}}/{{.}}\n{{end}}{{end}}", ".")
	cmd.Dir = abs
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	inputs := []string{"go.mod", "go.sum", "."}
	for _, p := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(abs, p)
		if err == nil && !strings.HasPrefix(rel, "..") {
			inputs = append(inputs, rel)
		}
	}
	if len(inputs) < 5 {
		t.Fatalf("go list found too few inputs: %v", inputs)
	}
	for _, in := range inputs {
		// Like Docker: a pattern excludes a path when it matches the
		// path or one of its parents.
		for p := in; p != "." && p != ""; p = filepath.Dir(p) {
			for _, pat := range patterns {
				if ok, _ := filepath.Match(pat, p); ok {
					t.Errorf(".dockerignore pattern %q leaves out %s, which the build needs", pat, in)
				}
				if rest, ok := strings.CutPrefix(pat, "**/"); ok {
					if ok, _ := filepath.Match(rest, filepath.Base(p)); ok {
						t.Errorf(".dockerignore pattern %q leaves out %s, which the build needs", pat, in)
					}
				}
			}
		}
	}
}
