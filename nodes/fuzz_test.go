package nodes

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseFile checks that ParseFile never panics, that every list it
// returns passes Validate, and that every error line names a line that is
// in the input, apart from YAML syntax errors, which are yaml's own words
// and lines. Seeds: testdata/*.yaml and testdata/fuzz/FuzzParseFile/.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"good.yaml", "ipv6.yaml", "multicluster.yaml"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, err := ParseFile(data)
		if err == nil {
			if verr := Validate(nodes); verr != nil {
				t.Fatalf("ParseFile returned a list that Validate rejects: %v\n%v", verr, nodes)
			}
			return
		}
		if nodes != nil {
			t.Fatalf("ParseFile returned nodes with an error: %v", nodes)
		}
		// yaml counts CR, LF, CRLF, NEL, LS and PS as line breaks;
		// counting all of them bounds the last line from above.
		maxLine := 1 + bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) +
			strings.Count(string(data), "\u0085") + strings.Count(string(data), "\u2028") +
			strings.Count(string(data), "\u2029")
		for _, msg := range strings.Split(err.Error(), "\n") {
			if strings.HasSuffix(msg, "more problems not shown)") || strings.HasPrefix(msg, "invalid YAML: ") {
				continue
			}
			rest, ok := strings.CutPrefix(msg, "line ")
			num, _, ok2 := strings.Cut(rest, ": ")
			n, nerr := strconv.Atoi(num)
			if !ok || !ok2 || nerr != nil || n < 1 || n > maxLine {
				t.Fatalf("error line %q does not start with a line of the input (1..%d)", msg, maxLine)
			}
		}
	})
}
