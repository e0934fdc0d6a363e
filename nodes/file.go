package nodes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseFile parses a node list file (the format in DESIGN.md):
//
//	nodes:
//	  - name: node-1         # required, unique; "cluster/name" allowed
//	    host_ip: 10.0.0.1    # required, IPv4 or IPv6
//	    health_ip: 10.1.0.1  # optional
//	    zone: zone-a         # optional, as is region: at most 63
//	    region: region-1     # printable characters, no spaces
//
// It applies the same checks as Validate, so every list it returns passes
// Validate, and it is strict about the YAML: unknown or repeated keys,
// aliases and more than one document are errors. IPs are normalised
// (::ffff:10.0.0.1 becomes 10.0.0.1); the order of the file is kept.
//
// Every error names its line ("line 5: unknown key \"hostip\""), except
// YAML syntax errors, which are yaml's own words and line ("invalid YAML:
// line 2: did not find expected key"; the line is one short for some, and
// missing for others). ParseFile reports all the problems it finds, in file
// order, one per line of the error (at most 20), so that one edit can fix
// them all. The exception is a file whose shape is wrong (not YAML, not a
// mapping, no list under "nodes"): nothing below that can be read, so only
// that is reported.
func ParseFile(data []byte) ([]Node, error) {
	root, p := decodeTree(data)
	if p != nil {
		return nil, joinProblems([]problem{*p})
	}
	items, ps, ok := listItems(root)
	if !ok {
		return nil, joinProblems(ps)
	}
	entries, decodeProblems := decodeEntries(data)
	ps = append(decodeProblems, ps...)
	if len(entries) != len(items) {
		// yaml leaves out a mapping that repeats a key (an entry, or the
		// whole file), and has said so; without it, entries and items no
		// longer line up, so the keys are all that can be reported.
		if len(ps) == 0 {
			ps = append(ps, problem{at: place{line: root.Line}, msg: "node list could not be decoded"})
		}
		return nil, joinProblems(ps)
	}
	for i := range entries {
		entries[i].line = items[i].Line
	}
	nodes, checkProblems := checkEntries(entries)
	if err := joinProblems(append(ps, checkProblems...)); err != nil {
		return nil, err
	}
	return nodes, nil
}

const emptyFile = "file is empty, want a mapping with key \"nodes\""

// decodeTree returns the top node of the only YAML document in data.
func decodeTree(data []byte) (*yaml.Node, *problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decode(dec, &doc); errors.Is(err, io.EOF) {
		return nil, &problem{at: place{line: 1}, msg: emptyFile}
	} else if err != nil {
		return nil, syntaxProblem(err)
	}
	var extra yaml.Node
	if err := decode(dec, &extra); err == nil {
		return nil, &problem{at: place{line: max(extra.Line, 1)}, msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxProblem(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, &problem{at: place{line: 1}, msg: emptyFile}
	}
	return doc.Content[0], nil
}

// syntaxProblem is a YAML syntax error as yaml words it. Its line, when it
// has one, is yaml's: one less than the real one for some parser errors.
func syntaxProblem(err error) *problem {
	return &problem{at: place{index: -1}, msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// listItems checks the shape of the document whose top node is root and
// returns the items of its node list. The shape is what the typed decode
// would report in Go's terms ("cannot unmarshal !!seq into
// nodes.fileEntry"), and aliases, which it would follow, placing problems
// on the line of the anchor. ok is false when the shape is wrong: then ps
// says why, and nothing below can be read. A missing or empty list is a
// problem but not a wrong shape: the decode still finds unknown keys.
func listItems(root *yaml.Node) (items []*yaml.Node, ps []problem, ok bool) {
	if root.Kind != yaml.MappingNode {
		return nil, []problem{lineProblem(root, "want a mapping with key \"nodes\", got %s", describe(root))}, false
	}
	if ps := pairProblems(root); len(ps) > 0 {
		return nil, ps, false
	}
	var list *yaml.Node
	for i := len(root.Content) - 2; i >= 0; i -= 2 {
		if root.Content[i].Value == "nodes" {
			list = root.Content[i+1] // the first "nodes"; yaml reports any other
		}
	}
	switch {
	case list == nil:
		return nil, []problem{lineProblem(root, "missing key \"nodes\"")}, true
	case isNull(list):
		return nil, []problem{lineProblem(list, "node list is empty")}, true
	case list.Kind != yaml.SequenceNode:
		return nil, []problem{lineProblem(list, "\"nodes\" must be a list, got %s", describe(list))}, false
	case len(list.Content) == 0:
		return nil, []problem{lineProblem(list, "node list is empty")}, true
	}
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			ps = append(ps, lineProblem(item, "node must be a mapping, got %s", describe(item)))
			continue
		}
		ps = append(ps, pairProblems(item)...)
	}
	return list.Content, ps, len(ps) == 0
}

// pairProblems reports the keys of mapping m that are not strings, and
// aliases among its keys and values.
func pairProblems(m *yaml.Node) []problem {
	var ps []problem
	for j := 0; j+1 < len(m.Content); j += 2 {
		for _, n := range m.Content[j : j+2] {
			if n.Kind == yaml.AliasNode {
				ps = append(ps, lineProblem(n, "alias *%s is not allowed", n.Value))
			}
		}
		if k := m.Content[j]; k.Kind != yaml.ScalarNode && k.Kind != yaml.AliasNode {
			ps = append(ps, lineProblem(k, "key must be a string, got %s", describe(k)))
		}
	}
	return ps
}

func lineProblem(n *yaml.Node, format string, args ...any) problem {
	return problem{at: place{line: n.Line}, msg: fmt.Sprintf(format, args...)}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// nodeFile is the whole file, as the typed decode sees it.
type nodeFile struct {
	Nodes []fileEntry `yaml:"nodes"`
}

// decodeEntries decodes data, one document whose shape listItems has
// checked, into typed entries. The decoder is strict (KnownFields): yaml
// reports unknown and repeated keys, each with its line, and goes on with
// the rest of the file. It parses data a second time because KnownFields
// is a setting of a Decoder reading text: (*yaml.Node).Decode ignores it.
func decodeEntries(data []byte) ([]fileEntry, []problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f nodeFile
	err := decode(dec, &f)
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		return f.Nodes, typeProblems(te)
	} else if err != nil {
		return nil, []problem{*syntaxProblem(err)}
	}
	return f.Nodes, nil
}

// typeProblems turns the messages of a yaml.TypeError, each "line N: ...",
// into problems. Two are said in the file's terms rather than Go's:
// KnownFields' "field hostip not found in type nodes.fileEntry" becomes
// `unknown key "hostip"`, and "mapping key "x" already defined at line 3"
// becomes `duplicate key "x" (first at line 3)`. Others are kept as yaml
// wrote them.
func typeProblems(te *yaml.TypeError) []problem {
	ps := make([]problem, 0, len(te.Errors))
	for _, msg := range te.Errors {
		p := problem{at: place{index: -1}, msg: msg}
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if num, text, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil {
					p = problem{at: place{line: n}, msg: text}
				}
			}
		}
		if rest, ok := strings.CutPrefix(p.msg, "field "); ok {
			if key, _, ok := strings.Cut(rest, " not found in type "); ok {
				p.msg = fmt.Sprintf("unknown key %q", key)
			}
		} else if rest, ok := strings.CutPrefix(p.msg, "mapping key "); ok {
			if key, first, ok := strings.Cut(rest, " already defined at line "); ok {
				p.msg = fmt.Sprintf("duplicate key %s (first at line %s)", key, first)
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// decode is dec.Decode, but a panic inside yaml (a big port of C, fed with
// whatever the operator wrote) becomes an error: a reload must not take the
// daemon down.
func decode(dec *yaml.Decoder, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return dec.Decode(v)
}
