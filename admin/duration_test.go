package admin_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		json string
	}{
		{0, `"0s"`},
		{1500 * time.Microsecond, `"1.5ms"`},
		{112 * time.Microsecond, `"112µs"`},
		{15 * time.Second, `"15s"`},
		{-2 * time.Second, `"-2s"`},
		{90 * time.Minute, `"1h30m0s"`},
	} {
		got, err := json.Marshal(admin.Duration(tc.d))
		if err != nil || string(got) != tc.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.d, got, err, tc.json)
		}
		var back admin.Duration
		if err := json.Unmarshal(got, &back); err != nil || back.Std() != tc.d {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", got, back, err, tc.d)
		}
	}
}

func TestDurationUnmarshalAccepts(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`"112us"`:    112 * time.Microsecond,
		`"112μs"`:    112 * time.Microsecond, // Greek mu as well as the micro sign
		`"1h2m3s"`:   time.Hour + 2*time.Minute + 3*time.Second,
		`"0.5s"`:     500 * time.Millisecond,
		`"-1.5ms"`:   -1500 * time.Microsecond,
		`"0"`:        0,
		`"1ns"`:      1,
		`"300ms"`:    300 * time.Millisecond,
		`"2562047h"`: 2562047 * time.Hour,
	} {
		var d admin.Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.Std() != want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, d, err, want)
		}
	}
}

func TestDurationUnmarshalRejects(t *testing.T) {
	for _, tc := range []struct{ in, wantErr string }{
		{`1500000`, "must be a string"},
		{`true`, "must be a string"},
		{`""`, "invalid duration"},
		{`"fast"`, "invalid duration"},
		{`"1.5"`, "invalid duration"},
		{`"99999999999h"`, "invalid duration"},
	} {
		var d admin.Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Unmarshal(%s) error = %v; want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}
