package nodes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ParseFile parses a node list file (the format in README.md, "Node list"):
//
//	nodes:
//	  - name: node-1         # required, unique; "cluster/name" allowed
//	    host_ip: 10.0.0.1    # required, IPv4 or IPv6
//	    health_ip: 10.1.0.1  # optional
//
// It applies the same checks as Validate, so every list it returns passes
// Validate, and it is stricter about the YAML: unknown or repeated keys,
// aliases and more than one document are errors. IPs are normalised
// (::ffff:10.0.0.1 becomes 10.0.0.1); the order of the file is kept.
//
// Every error names its line ("line 5: unknown key \"hostip\""). ParseFile
// reports all the problems it finds, in file order, one per line of the
// error (at most 20), so that one edit can fix them all. The exception is
// a file whose shape is wrong (not UTF-8, not YAML, not a mapping, no list
// under "nodes"): nothing below that can be read, so it is the only problem.
func ParseFile(data []byte) ([]Node, error) {
	lines, p := checkText(data)
	if p != nil {
		return nil, joinProblems([]problem{*p})
	}
	root, p := decodeOne(data)
	if p != nil {
		return nil, joinProblems(inFile([]problem{*p}, lines))
	}
	fp := &fileParser{}
	nodes := fp.parse(root)
	if err := joinProblems(inFile(fp.problems, lines)); err != nil {
		return nil, err
	}
	return nodes, nil
}

// inFile keeps problem lines within the file's lines: yaml.v3 puts the end
// of a file that lacks a final newline on a line after it.
func inFile(ps []problem, lines int) []problem {
	for i := range ps {
		ps[i].at.line = min(ps[i].at.line, lines)
	}
	return ps
}

// fileParser walks the YAML tree of a node file, collecting problems.
type fileParser struct {
	problems []problem
	lines    []fieldLines // by node index, where its fields are
}

// fieldLines is the line of a node (fieldNode) and of each of its fields;
// 0 for a field the node does not have.
type fieldLines [4]int

func (p *fileParser) addf(line int, format string, args ...any) {
	p.problems = append(p.problems, problem{at: place{line: line}, msg: fmt.Sprintf(format, args...)})
}

// where places a validator problem on the line of the field, or of the
// node when the field is missing.
func (p *fileParser) where(i int, f field) place {
	if line := p.lines[i][f]; line != 0 {
		return place{line: line}
	}
	return place{line: p.lines[i][fieldNode]}
}

func (p *fileParser) parse(root *yaml.Node) []Node {
	if root.Kind != yaml.MappingNode {
		p.addf(root.Line, "want a mapping with key \"nodes\", got %s", describe(root))
		return nil
	}
	list, ok := p.fields(root, "nodes")["nodes"]
	if !ok {
		p.addf(root.Line, "missing key \"nodes\"")
		return nil
	}
	if isNull(list) {
		p.addf(list.Line, "node list is empty")
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.addf(list.Line, "\"nodes\" must be a list, got %s", describe(list))
		return nil
	}
	if len(list.Content) == 0 {
		p.addf(list.Line, "node list is empty")
		return nil
	}
	v := newValidator(p.where)
	nodes := make([]Node, len(list.Content))
	for i, item := range list.Content {
		nodes[i] = p.node(v, i, item)
	}
	p.problems = append(p.problems, v.problems...)
	return nodes
}

// node reads list item i; v checks what it read against the items before.
func (p *fileParser) node(v *validator, i int, item *yaml.Node) Node {
	p.lines = append(p.lines, fieldLines{fieldNode: item.Line})
	if item.Kind != yaml.MappingNode {
		p.addf(item.Line, "node must be a mapping, got %s", describe(item))
		return Node{}
	}
	fields := p.fields(item, "name", "host_ip", "health_ip")
	var n Node
	if val, ok := fields["name"]; !ok {
		p.addf(item.Line, "node name is required")
	} else if name, ok := p.text(val, "node name"); ok {
		p.lines[i][fieldName] = val.Line
		n.Name = name
		v.name(i, name)
	}
	n.HostIP = p.addr(v, i, n.Name, fieldHostIP, fields["host_ip"])
	if !n.HostIP.IsValid() && p.lines[i][fieldHostIP] == 0 {
		v.add(i, fieldNode, "%shost_ip is required", subject(n.Name))
	}
	n.HealthIP = p.addr(v, i, n.Name, fieldHealthIP, fields["health_ip"])
	return n
}

// addr reads the IP in val (nil when the key is absent) for field f of
// node i. It returns the zero Addr when there is none or it is bad; a
// non-zero line recorded for f means "present but bad" (already reported).
func (p *fileParser) addr(v *validator, i int, name string, f field, val *yaml.Node) netip.Addr {
	if val == nil {
		return netip.Addr{}
	}
	s, ok := p.text(val, subject(name)+f.String())
	if !ok {
		p.lines[i][f] = val.Line
		return netip.Addr{}
	}
	if s == "" { // an empty value (as templating tools write) is no value
		return netip.Addr{}
	}
	p.lines[i][f] = val.Line
	ip, err := netip.ParseAddr(s)
	if err != nil {
		v.add(i, f, "%sinvalid %s %q", subject(name), f, s)
		return netip.Addr{}
	}
	v.addr(i, name, f, ip, s)
	return ip.Unmap()
}

// text returns the value of a scalar ("" for null); anything else (a list,
// a mapping, an alias) is reported as a problem with what.
func (p *fileParser) text(val *yaml.Node, what string) (string, bool) {
	if val.Kind != yaml.ScalarNode {
		p.addf(val.Line, "%s must be a string, got %s", what, describe(val))
		return "", false
	}
	if isNull(val) {
		return "", true
	}
	return val.Value, true
}

// fields returns the values of a mapping by key, reporting keys that are
// not strings, not among known, or repeated.
func (p *fileParser) fields(m *yaml.Node, known ...string) map[string]*yaml.Node {
	values := make(map[string]*yaml.Node, len(known))
	firstLine := make(map[string]int, len(known))
	for j := 0; j+1 < len(m.Content); j += 2 {
		k, val := m.Content[j], m.Content[j+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			p.addf(k.Line, "key must be a string, got %s", describe(k))
		case firstLine[k.Value] != 0:
			p.addf(k.Line, "duplicate key %q (first at line %d)", k.Value, firstLine[k.Value])
		default:
			firstLine[k.Value] = k.Line
			if !slices.Contains(known, k.Value) {
				p.addf(k.Line, "unknown key %q", k.Value)
				continue
			}
			values[k.Value] = val
		}
	}
	return values
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the kind of a YAML node for "got ..." in errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!bool":
		return "a boolean"
	case "!!int", "!!float":
		return "a number"
	}
	return "a string"
}

const emptyFile = "file is empty, want a mapping with key \"nodes\""

// decodeOne returns the root of the only YAML document in data.
func decodeOne(data []byte) (*yaml.Node, *problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decode(dec, &doc); errors.Is(err, io.EOF) {
		return nil, &problem{at: place{line: 1}, msg: emptyFile}
	} else if err != nil {
		return nil, yamlProblem(data, err)
	}
	var extra yaml.Node
	if err := decode(dec, &extra); err == nil {
		return nil, &problem{at: place{line: max(extra.Line, 1)}, msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlProblem(data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, &problem{at: place{line: 1}, msg: emptyFile}
	}
	return doc.Content[0], nil
}

// decode is dec.Decode, but a panic inside yaml.v3 (a big port of C, fed
// with whatever the operator wrote) becomes an error: a reload must not
// take the daemon down.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlProblem turns a yaml.v3 syntax error into a problem whose line is
// right. yaml.v3 gives scanner errors a 1-based line but parser errors
// ("did not find expected ...") a 0-based one, leaves the line out when it
// is 0, and has none for an unknown alias.
func yamlProblem(data []byte, err error) *problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	if isParserProblem(msg) {
		line++
	}
	if rest, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		if name, ok := strings.CutSuffix(rest, "' referenced"); ok {
			line = aliasLine(data, name)
		}
	}
	return &problem{at: place{line: max(line, 1)}, msg: "invalid YAML: " + msg}
}

// isParserProblem reports whether msg is one of yaml.v3's parser (as
// opposed to scanner) messages, which come with a 0-based line.
func isParserProblem(msg string) bool {
	switch msg {
	case "did not find expected <stream-start>",
		"did not find expected <document start>",
		"found undefined tag handle",
		"did not find expected node content",
		"did not find expected '-' indicator",
		"did not find expected key",
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found duplicate %TAG directive":
		return true
	}
	return false
}

// aliasLine finds the line of the first alias *name in data, or 0.
func aliasLine(data []byte, name string) int {
	for i, line := range strings.Split(string(data), "\n") {
		for off := 0; ; {
			j := strings.Index(line[off:], "*"+name)
			if j < 0 {
				break
			}
			start, end := off+j, off+j+1+len(name)
			before := start == 0 || strings.ContainsRune(" \t[{,:-?", rune(line[start-1]))
			after := end == len(line) || strings.ContainsRune(" \t,]}\r#", rune(line[end]))
			if before && after {
				return i + 1
			}
			off = start + 1
		}
	}
	return 0
}

// checkText rejects what yaml.v3 would reject without saying where: bytes
// that are not UTF-8 and characters YAML does not allow (NUL and other
// control characters). That gives binary garbage a line too. Lines are
// counted as yaml.v3 counts them; checkText returns how many there are.
func checkText(data []byte) (lines int, _ *problem) {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return line, &problem{at: place{line: line}, msg: "not valid UTF-8"}
		case !yamlChar(r):
			return line, &problem{at: place{line: line}, msg: fmt.Sprintf("character %U is not allowed", r)}
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
			// CRLF: counted at the LF
		case r == '\n', r == '\r', r == 0x85, r == 0x2028, r == 0x2029:
			line++
		}
		i += size
	}
	return line, nil
}

// yamlChar reports whether YAML allows r in a document (YAML 1.2, 5.1).
func yamlChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E,
		r >= 0xA0 && r <= 0xD7FF,
		r >= 0xE000 && r <= 0xFFFD,
		r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
