package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Layout says where each kind of file goes.
type Layout struct {
	Dashboards string // directory of the dashboards
	Rules      string // directory of the rule files
}

func (l Layout) dir(k Kind) string {
	if k == Dashboard {
		return l.Dashboards
	}
	return l.Rules
}

// ext is the extension of the files of kind k: a file of that extension in
// its directory that no template renders is stale.
func ext(k Kind) string {
	if k == Dashboard {
		return ".json"
	}
	return ".yml"
}

// Write writes files into l, creating its directories.
func Write(l Layout, files []File) error {
	for _, f := range files {
		dir := l.dir(f.Kind)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Drift lists how the files in l differ from files: missing, different, or
// there with no template behind them. Empty means l is up to date.
func Drift(l Layout, files []File) ([]string, error) {
	var drift []string
	rendered := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(l.dir(f.Kind), f.Name)
		rendered[p] = true
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			drift = append(drift, p+": missing")
		case err != nil:
			return nil, err
		case !bytes.Equal(b, f.Data):
			drift = append(drift, p+": differs from what its template renders")
		}
	}
	for _, k := range []Kind{Dashboard, Rules} {
		on, err := filepath.Glob(filepath.Join(l.dir(k), "*"+ext(k)))
		if err != nil {
			return nil, err
		}
		for _, p := range on {
			if !rendered[p] {
				drift = append(drift, p+": no template renders it")
			}
		}
	}
	sort.Strings(drift)
	return drift, nil
}

// driftError says that l is not up to date, and how to fix it.
func driftError(drift []string) error {
	msg := "generated files differ from mixin/templates (run make generate):"
	for _, d := range drift {
		msg += "\n  " + d
	}
	return fmt.Errorf("%s", msg)
}
