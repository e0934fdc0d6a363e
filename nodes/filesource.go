package nodes

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// DefaultPollInterval is how often a FileSource looks at its file when
// NewFileSource is given no interval.
const DefaultPollInterval = 5 * time.Second

// racyWindow is how close to the time it was read a file's mtime may be
// and still hide a later rewrite: filesystems with coarse timestamps give
// two quick writes of the same size the same stat. Such a file is read
// again on every poll until its mtime is older than this (git's "racily
// clean" rule).
const racyWindow = 2 * time.Second

// FileSource is a Source that reads a node list file (see ParseFile) and
// polls it for changes.
//
// It polls rather than using inotify so that every way a file gets
// replaced is seen the same way: editors that write a new file and rename
// it over the old one, and Kubernetes ConfigMap volumes, which swap a
// symlink to a new directory. A poll costs one stat; the file is read and
// hashed only when the stat changed (or is too recent to trust), and a
// change is reported only when the content hash differs.
type FileSource struct {
	path     string
	interval time.Duration

	// afterPoll, when set (by tests), is called after every poll of
	// Watch, so that tests can wait for polls instead of sleeping.
	afterPoll func()

	mu   sync.Mutex
	seen snapshot // what the last Load or poll found
}

// NewFileSource returns a source for the node file at path, polled every
// pollInterval by Watch (DefaultPollInterval if pollInterval <= 0).
func NewFileSource(path string, pollInterval time.Duration) *FileSource {
	if pollInterval <= 0 {
		pollInterval = DefaultPollInterval
	}
	return &FileSource{path: path, interval: pollInterval}
}

// snapshot is what one look at the file found.
type snapshot struct {
	valid  bool        // false before the first look
	info   fs.FileInfo // nil when stat failed
	statAt time.Time   // taken just before the stat
	ver    version
}

// version tells two contents of the file apart: the hash of the bytes,
// or the error that kept them from being read.
type version struct {
	sum     [sha256.Size]byte
	readErr string
}

// Load reads and parses the file. Errors start with the path:
// "/etc/x.yaml: line 5: unknown key \"hostip\"", or
// "/etc/x.yaml: no such file or directory".
func (s *FileSource) Load(ctx context.Context) ([]Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, nodes, err := s.look()
	s.seen = snap
	return nodes, err
}

// Watch polls the file until ctx ends, starting with a poll right away.
// It calls update when the content changed and is valid, and fail (with
// an error as Load's) when it changed and is not, or cannot be read. So
// each distinct bad content is reported once, not on every poll, and a
// file that comes back after a deletion or a bad edit is reported with
// update even if it holds the list it held before. Changes are relative
// to what the last Load or poll saw, so Load followed by Watch reports
// nothing until the file changes. The callbacks run on Watch's goroutine;
// run one Watch at a time per FileSource.
func (s *FileSource) Watch(ctx context.Context, update func([]Node), fail func(error)) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for ctx.Err() == nil {
		if changed, nodes, err := s.poll(); changed {
			switch {
			case err != nil && fail != nil:
				fail(err)
			case err == nil && update != nil:
				update(nodes)
			}
		}
		if s.afterPoll != nil {
			s.afterPoll()
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// poll looks at the file if it may have changed since the last look, and
// says whether its content did, and what it holds now.
func (s *FileSource) poll() (changed bool, nodes []Node, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen.unchanged(s.path) {
		return false, nil, nil
	}
	prev := s.seen
	snap, nodes, err := s.look()
	s.seen = snap
	if prev.valid && snap.ver == prev.ver {
		return false, nil, nil
	}
	return true, nodes, err
}

// unchanged reports whether the file at path certainly still holds what
// snap saw: same file (inode), size, mode and mtime, and an mtime old
// enough to trust.
func (snap snapshot) unchanged(path string) bool {
	if !snap.valid || snap.info == nil {
		return false
	}
	info, err := os.Stat(path)
	if err != nil {
		return false
	}
	old := snap.info
	return os.SameFile(info, old) &&
		info.Size() == old.Size() &&
		info.Mode() == old.Mode() &&
		info.ModTime().Equal(old.ModTime()) &&
		old.ModTime().Before(snap.statAt.Add(-racyWindow))
}

// look stats, reads and parses the file. The stat comes before the read:
// if the file changes in between, the next poll sees a new stat and reads
// again, rather than trusting a stat that matches old content.
func (s *FileSource) look() (snapshot, []Node, error) {
	snap := snapshot{valid: true, statAt: time.Now()}
	fail := func(err error) (snapshot, []Node, error) {
		snap.info, snap.ver = nil, version{readErr: err.Error()}
		return snap, nil, err
	}
	info, err := os.Stat(s.path)
	if err != nil {
		return fail(s.fileError(err))
	}
	if !info.Mode().IsRegular() { // a FIFO or device would block or never end
		return fail(fmt.Errorf("%s: not a regular file", s.path))
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fail(s.fileError(err))
	}
	snap.info, snap.ver = info, version{sum: sha256.Sum256(data)}
	nodes, err := ParseFile(data)
	if err != nil {
		return snap, nil, withPath(s.path, err)
	}
	return snap, nodes, nil
}

// fileError says why the file cannot be read as "<path>: <reason>",
// without the "open"/"stat" that *fs.PathError adds; errors.Is still
// sees the reason (fs.ErrNotExist, fs.ErrPermission).
func (s *FileSource) fileError(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", s.path, err)
}

// withPath puts "<path>: " before every line of a ParseFile error.
func withPath(path string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("%s: %w", path, err)
	}
	errs := joined.Unwrap()
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", path, e)
	}
	return errors.Join(out...)
}
