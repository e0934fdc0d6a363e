package main

import (
	"fmt"
	"reflect"

	"github.com/alecthomas/kingpin/v2"
)

// renamedFlags are flags' old names, kept as hidden aliases for a release:
// an old name sets the value of the new one; both given with different
// values is an error.
type renamedFlags struct {
	resolves []func() (oldUsed string, err error)
}

// renamed registers oldName, hidden, as an alias of newFlag, whose value is
// *target; bind is how newFlag was bound (e.g. (*kingpin.FlagClause).StringVar).
// Call it after newFlag is bound.
func renamed[T any](r *renamedFlags, c *kingpin.CmdClause, newFlag *kingpin.FlagClause, oldName string, target *T, bind func(*kingpin.FlagClause, *T)) {
	newName := newFlag.Model().Name
	var old T
	var oldSet, newSet bool
	newFlag.IsSetByUser(&newSet)
	bind(c.Flag(oldName, "Deprecated: the old name of --"+newName+".").Hidden().IsSetByUser(&oldSet), &old)
	r.resolves = append(r.resolves, func() (string, error) {
		if !oldSet {
			return "", nil
		}
		if newSet && !reflect.DeepEqual(old, *target) {
			return "", fmt.Errorf("--%s is the old name of --%s: give one of them (or the same value to both)", oldName, newName)
		}
		*target = old
		return "--" + oldName + " (now --" + newName + ")", nil
	})
}

// resolve applies the old names given; it returns them, for a warning.
func (r *renamedFlags) resolve() (used []string, err error) {
	for _, resolve := range r.resolves {
		old, err := resolve()
		if err != nil {
			return nil, err
		}
		if old != "" {
			used = append(used, old)
		}
	}
	return used, nil
}
