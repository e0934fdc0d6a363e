package nodes

import "errors"

// TransientError is a source error that the source retries by itself,
// such as a broken Kubernetes watch: the list in force may still be
// current, and no new list will say when the trouble is over. Other source
// errors reject a list (a file that does not parse, a list that does not
// validate) and last until a good list replaces it.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// IsTransient reports whether err is, or wraps, a TransientError.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}
