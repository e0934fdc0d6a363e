package nodes

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v4"
)

// syntaxProblem places a YAML syntax error from loading the text on the
// line yaml stopped at, and names the line where the construct it was
// reading starts when that is another one: an unclosed "[" is found a
// line or more after it.
func syntaxProblem(data []byte, err error) *problem {
	le, ok := errors.AsType[*yaml.LoadError](err)
	if !ok {
		return &problem{at: place{line: 1}, msg: "invalid YAML: " + err.Error()}
	}
	line := le.Mark.Line
	if line == 0 && le.Stage == yaml.ReaderStage {
		line = lineOf(data, le.Mark.Index) // bad bytes: yaml gives their offset
	}
	msg := "invalid YAML: " + le.Message
	if le.ContextMsg != "" && le.ContextMark.Line > 0 && le.ContextMark.Line != line {
		msg += fmt.Sprintf(" (%s that starts at line %d)", le.ContextMsg, le.ContextMark.Line)
	}
	return &problem{at: place{line: max(line, 1)}, msg: msg}
}

// lineOf returns the line of byte offset in data, counting the line breaks
// yaml counts: LF, CR, CRLF, NEL, LS and PS. For UTF-16 text, where the
// bytes of a break are apart, it is an estimate.
func lineOf(data []byte, offset int) int {
	text := strings.ReplaceAll(string(data[:min(max(offset, 0), len(data))]), "\r\n", "\n")
	breaks := 0
	for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		breaks += strings.Count(text, br)
	}
	return 1 + breaks
}

// loadProblems turns the error of the strict decode of the tree whose top
// node is root into problems. yaml reports an unknown or repeated key at
// the key's position; the key is found there in the tree, and said in the
// file's terms: `duplicate key "x" (first at line 3)` when the same
// mapping has it before, `unknown key "x"` when it is not a field of the
// type the mapping decodes into. Anything else is yaml's message on its
// line.
func loadProblems(root *yaml.Node, err error) []problem {
	if err == nil {
		return nil
	}
	var les []*yaml.LoadError
	if all, ok := errors.AsType[*yaml.LoadErrors](err); ok {
		les = all.Errors
	} else if le, ok := errors.AsType[*yaml.LoadError](err); ok {
		les = []*yaml.LoadError{le}
	} else {
		return []problem{{at: place{line: root.Line}, msg: "node list could not be decoded: " + err.Error()}}
	}
	keys := indexKeys(root)
	seen := make(map[problem]bool, len(les))
	ps := make([]problem, 0, len(les))
	for _, le := range les {
		p := keys.problem(le)
		if !seen[p] { // a key written three times is reported twice at the third
			seen[p] = true
			ps = append(ps, p)
		}
	}
	return ps
}

// position is where a node starts, as yaml.Mark and yaml.Node count
// (1-based line and column).
type position struct{ line, column int }

// keyRef is a key of a mapping in the tree: m.Content[i], of a mapping
// that decodes into a type whose keys are fields.
type keyRef struct {
	m      *yaml.Node
	i      int
	fields map[string]bool
}

// keyIndex finds the keys of the mappings that the strict decode checks
// by their position.
type keyIndex map[position]keyRef

// indexKeys indexes the keys of the top mapping and of every mapping in
// a list under "nodes", with the merge sources ("<<") of each.
func indexKeys(root *yaml.Node) keyIndex {
	keys := keyIndex{}
	keys.add(root, yamlKeys(reflect.TypeFor[nodeFile]()))
	entryKeys := yamlKeys(reflect.TypeFor[fileEntry]())
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k, v := root.Content[i], root.Content[i+1]; k.Value == "nodes" && v.Kind == yaml.SequenceNode {
			for _, item := range v.Content {
				keys.add(item, entryKeys)
			}
		}
	}
	return keys
}

// add indexes the keys of m, if it is a mapping, and of its merge sources.
func (keys keyIndex) add(m *yaml.Node, fields map[string]bool) {
	if m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		keys[position{k.Line, k.Column}] = keyRef{m: m, i: i, fields: fields}
		if k.ShortTag() == "!!merge" {
			keys.add(v, fields)
			if v.Kind == yaml.SequenceNode {
				for _, source := range v.Content {
					keys.add(source, fields)
				}
			}
		}
	}
}

// problem says le in the file's terms when it is about a key.
func (keys keyIndex) problem(le *yaml.LoadError) problem {
	p := problem{at: place{line: max(le.Mark.Line, 1)}, msg: le.Message}
	ref, ok := keys[position{le.Mark.Line, le.Mark.Column}]
	if !ok || le.Stage != yaml.ConstructorStage {
		return p
	}
	key := ref.m.Content[ref.i]
	for j := 0; j < ref.i; j += 2 {
		if first := ref.m.Content[j]; first.Kind == key.Kind && first.Value == key.Value {
			p.msg = fmt.Sprintf("duplicate key %q (first at line %d)", key.Value, first.Line)
			return p
		}
	}
	if key.Kind == yaml.ScalarNode && !ref.fields[key.Value] {
		p.msg = fmt.Sprintf("unknown key %q", key.Value)
	}
	return p
}

// yamlKeys returns the YAML keys of the fields of struct type t, as yaml
// names them: the name in the field's yaml tag, else the field's name in
// lower case; unexported fields and `yaml:"-"` are not keys.
func yamlKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case name != "":
			keys[name] = true
		default:
			keys[strings.ToLower(f.Name)] = true
		}
	}
	return keys
}
