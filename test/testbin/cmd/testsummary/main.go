// Command testsummary runs `go test -json ...` commands, one after the
// other, and prints what a person reads of go test's usual output: a line
// per package (ok or FAIL) and the output of the tests that failed; then,
// over all the commands, every skipped test with its reason and a last line
// "N passed, N failed, N skipped". It exits non-zero when a command does,
// when a test fails, or when a test skips that -allow-skip does not name:
// under make test a skip is a test that did not run.
//
//	testsummary [-allow-skip REGEXP] go test -json ./... [-- go -C other/module test -json ./...]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testsummary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allow := fs.String("allow-skip", "", "a regular expression of the tests (package.Test/sub or Test/sub) that may skip")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: testsummary [-allow-skip REGEXP] go test -json PACKAGES... [-- go test -json ...]...")
		return 2
	}
	var allowed *regexp.Regexp
	if *allow != "" {
		var err error
		if allowed, err = regexp.Compile(*allow); err != nil {
			fmt.Fprintf(stderr, "testsummary: -allow-skip: %v\n", err)
			return 2
		}
	}
	s := newSummary(stdout, allowed)
	failed := false
	for _, argv := range commands(fs.Args()) {
		if err := runOne(argv, s, stderr); err != nil {
			fmt.Fprintf(stdout, "testsummary: %s: %v\n", strings.Join(argv, " "), err)
			failed = true
		}
	}
	code := s.finish()
	if failed {
		code = 1
	}
	return code
}

// commands splits args at every "--" into commands.
func commands(args []string) [][]string {
	var out [][]string
	for len(args) > 0 {
		i := slices.Index(args, "--")
		if i < 0 {
			i = len(args)
		}
		if i > 0 {
			out = append(out, args[:i])
		}
		args = args[min(i+1, len(args)):]
	}
	return out
}

// runOne runs one go test -json command into s.
func runOne(argv []string, s *summary, stderr io.Writer) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	readErr := s.read(out)
	if err := cmd.Wait(); err != nil {
		return err
	}
	if readErr != nil {
		return fmt.Errorf("reading its output: %w", readErr)
	}
	return nil
}
