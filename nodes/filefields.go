package nodes

import (
	"net/netip"

	"go.yaml.in/yaml/v4"
)

// fileEntry is one item of the node list as the file wrote it. The strict
// decoder (KnownFields) rejects keys that are not fields here, so adding a
// key to the format is adding a field: a list-valued one such as
// `host_ips: [v4, v6]` is a type whose UnmarshalYAML decodes each item of
// the list with ipField's.
type fileEntry struct {
	Name      nameField   `yaml:"name"`
	HostIP    ipField     `yaml:"host_ip"`
	HostIPs   ipListField `yaml:"host_ips"`
	HealthIP  ipField     `yaml:"health_ip"`
	HealthIPs ipListField `yaml:"health_ips"`
	Zone      textField   `yaml:"zone"`
	Region    textField   `yaml:"region"`

	line int // of the item in the list, set by ParseFile
}

// fieldLine is the line of field f, or 0 when the entry lacks it.
func (e *fileEntry) fieldLine(f field) int {
	switch f {
	case fieldName:
		return e.Name.line
	case fieldHostIP:
		return e.HostIP.line
	case fieldHostIPs:
		return e.HostIPs.line
	case fieldHealthIP:
		return e.HealthIP.line
	case fieldHealthIPs:
		return e.HealthIPs.line
	case fieldZone:
		return e.Zone.line
	case fieldRegion:
		return e.Region.line
	}
	return 0
}

// nameField is the value of "name", with where it was. A null value never
// reaches UnmarshalYAML (yaml leaves the field zero), so a null name is an
// absent one.
type nameField struct {
	line int    // 0: absent
	text string // the name
	got  string // non-empty when the value is not a string: what it is
}

func (f *nameField) UnmarshalYAML(n *yaml.Node) error {
	f.line = n.Line
	f.text, f.got = scalar(n)
	return nil
}

// textField is the value of an optional text key ("zone", "region"),
// with where it was; absent, null and "" are all no value.
type textField struct {
	line int    // 0: no value
	text string // as written
	got  string // non-empty when the value is not a string: what it is
}

func (f *textField) UnmarshalYAML(n *yaml.Node) error {
	text, got := scalar(n)
	if text == "" && got == "" {
		return nil
	}
	f.line, f.text, f.got = n.Line, text, got
	return nil
}

// ipField is the value of "host_ip" or "health_ip", with where it was: a
// textField (absent, null and "" are no value; templating tools write "")
// and the address it parses to. Problems are kept, not returned: an error
// from UnmarshalYAML would stop the decoder, and ParseFile reports every
// problem of the file at once.
type ipField struct {
	textField
	addr netip.Addr // valid when text parses
}

func (f *ipField) UnmarshalYAML(n *yaml.Node) error {
	if err := f.textField.UnmarshalYAML(n); err != nil {
		return err
	}
	if f.line != 0 && f.got == "" {
		f.addr, _ = netip.ParseAddr(f.text) // invalid Addr: reported by checkEntries
	}
	return nil
}

// ipListField is the value of "host_ips" or "health_ips", with where it
// was; each item is read as an ipField. Like ipField it keeps problems
// for checkEntries.
type ipListField struct {
	line  int       // 0: absent, null or an empty list
	items []ipField // as written
	got   string    // non-empty when the value is not a list: what it is
}

func (f *ipListField) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		if text, got := scalar(n); text != "" || got != "" {
			f.line, f.got = n.Line, describe(n)
		}
		return nil
	}
	if len(n.Content) == 0 {
		return nil
	}
	f.line = n.Line
	f.items = make([]ipField, len(n.Content))
	for i, item := range n.Content {
		if err := f.items[i].UnmarshalYAML(item); err != nil {
			return err
		}
		if f.items[i].line == 0 { // null or "": still an item, and not an IP
			f.items[i].line, f.items[i].text = item.Line, item.Value
		}
	}
	return nil
}

// scalar returns the text of a scalar node, or what the node is when it is
// not one ("a list"); yaml turns an alias into the node it names before
// UnmarshalYAML sees it, and ParseFile rejects aliases before decoding.
func scalar(n *yaml.Node) (text, got string) {
	if n.Kind != yaml.ScalarNode {
		return "", describe(n)
	}
	return n.Value, ""
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
