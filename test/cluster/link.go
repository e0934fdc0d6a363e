package cluster

import "fmt"

// SetNodeLink pulls node name's cable (up false) or plugs it back in: its
// port on the fabric goes down or up. The node keeps its addresses and
// routes (its eth0 only loses carrier), as a machine whose switch port or
// cable fails does, so plugging it back in restores it as it was.
func (c *Cluster) SetNodeLink(name string, up bool) error {
	c.mu.Lock()
	_, ok := c.nodes[name]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("no node %q", name)
	}
	state := "down"
	if up {
		state = "up"
	}
	return ip("-n", c.fabricNS(), "link", "set", name, state)
}
