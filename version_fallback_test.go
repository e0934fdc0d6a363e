package main

import (
	"runtime/debug"
	"testing"
)

func TestStampFromBuildInfo(t *testing.T) {
	const rev = "6869da11d20ddb334965bebb6e63373e54cc05c7"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-06T15:30:31Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name     string
		main     string
		settings []debug.BuildSetting
		want     versionStamp
	}{
		{"go install of a tag: no VCS settings", "v1.2.0", nil,
			versionStamp{Version: "1.2.0"}},
		{"clean checkout at a tag", "v1.2.0", vcs("false"),
			versionStamp{Version: "1.2.0", Revision: rev, BuildDate: "20261206-15:30:31"}},
		{"checkout after a tag: pseudo-version", "v1.2.1-0.20261206153031-6869da11d20d", vcs("false"),
			versionStamp{Version: "1.2.1-0.20261206153031-6869da11d20d", Revision: rev, BuildDate: "20261206-15:30:31"}},
		{"changed tree: Go marks the pseudo-version", "v0.0.0-20261206153031-6869da11d20d+dirty", vcs("true"),
			versionStamp{Version: "0.0.0-20261206153031-6869da11d20d+dirty", Revision: rev + "-dirty", BuildDate: "20261206-15:30:31"}},
		{"changed tree, no module version", "(devel)", vcs("true"),
			versionStamp{Version: "devel-dirty", Revision: rev + "-dirty", BuildDate: "20261206-15:30:31"}},
		{"-buildvcs=false", "(devel)", nil,
			versionStamp{Version: "devel"}},
		{"empty module version", "", nil,
			versionStamp{Version: "devel"}},
		{"unparsable time is kept as is", "(devel)", []debug.BuildSetting{{Key: "vcs.time", Value: "yesterday"}},
			versionStamp{Version: "devel", BuildDate: "yesterday"}},
		{"time in another zone is shown in UTC", "(devel)", []debug.BuildSetting{{Key: "vcs.time", Value: "2026-12-06T17:30:31+02:00"}},
			versionStamp{Version: "devel", BuildDate: "20261206-15:30:31"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/connectivity-exporter/connectivity_exporter", Version: tc.main}, Settings: tc.settings}
			if got := stampFromBuildInfo(bi); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
