package main

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// buildDateLayout is how make stamps version.BuildDate (promu's layout).
const buildDateLayout = "20060102-15:04:05"

// versionStamp is the part of prometheus/common/version's variables that a
// plain go build can know from its module build info.
type versionStamp struct {
	Version, Revision, BuildDate string
}

// stampFromBuildInfo derives a stamp from what every go build records: the
// module's version ("v1.2.0" from go install ...@v1.2.0, a pseudo-version
// from a checkout with VCS stamping, "(devel)" without), and with VCS
// stamping the commit, its time (the build date of a reproducible build)
// and whether the tree had changes ("-dirty", as git describe --dirty says).
func stampFromBuildInfo(bi *debug.BuildInfo) versionStamp {
	var s versionStamp
	modified := false
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Revision = kv.Value
		case "vcs.time":
			s.BuildDate = kv.Value
			if t, err := time.Parse(time.RFC3339, kv.Value); err == nil {
				s.BuildDate = t.UTC().Format(buildDateLayout)
			}
		case "vcs.modified":
			modified = kv.Value == "true"
		}
	}
	s.Version = "devel"
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		s.Version = strings.TrimPrefix(v, "v")
	}
	if modified {
		if !strings.HasSuffix(s.Version, "+dirty") { // Go's own mark on a pseudo-version
			s.Version += "-dirty"
		}
		if s.Revision != "" {
			s.Revision += "-dirty"
		}
	}
	return s
}

// fillVersion fills version.Version, Revision and BuildDate from the module
// build info when no ldflags set them (a plain go build or go install), so
// that --version and the build_info series still name the build.
func fillVersion() {
	if version.Version != "" {
		return
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	s := stampFromBuildInfo(bi)
	version.Version = s.Version
	if version.Revision == "" {
		version.Revision = s.Revision
	}
	if version.BuildDate == "" {
		version.BuildDate = s.BuildDate
	}
}
