package nodes

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Generous: the tests wait on events, this only bounds a broken test.
const waitTimeout = 10 * time.Second

const (
	fileA = "nodes:\n  - {name: a, host_ip: 198.18.0.1}\n"
	fileB = "nodes:\n  - {name: b, host_ip: 198.18.0.2}\n"
	fileC = "nodes:\n  - {name: c, host_ip: 198.18.0.3}\n"
	bad1  = "nodes:\n  - {name: a, hostip: 198.18.0.1}\n"
	bad2  = "nodes: []\n"
)

var (
	listA = []Node{{Name: "a", HostIP: addr("198.18.0.1")}}
	listB = []Node{{Name: "b", HostIP: addr("198.18.0.2")}}
	listC = []Node{{Name: "c", HostIP: addr("198.18.0.3")}}
)

// writeFile writes content in place (same inode), as `cat > file` does.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes a new file and renames it over path, as editors do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileSourceLoad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		content string // written to path unless empty
		want    []Node
		dir     bool // make path a directory
		wantErr string
	}{
		{name: "good", path: "good.yaml", content: fileA, want: listA},
		{
			name:    "bad content names path and line",
			path:    "bad.yaml",
			content: "nodes:\n  - name: a\n    hostip: 198.18.0.1\n",
			wantErr: dir + "/bad.yaml: line 2: node \"a\": host_ip is required\n" +
				dir + "/bad.yaml: line 3: unknown key \"hostip\"",
		},
		{name: "missing", path: "missing.yaml", wantErr: dir + "/missing.yaml: no such file or directory"},
		{name: "directory", path: "dir.yaml", dir: true, wantErr: dir + "/dir.yaml: not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.path)
			if tt.content != "" {
				writeFile(t, path, tt.content)
			}
			if tt.dir {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, err := NewFileSource(path, time.Second).Load(context.Background())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load error:\n got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFileSourceLoadMissingIsNotExist(t *testing.T) {
	_, err := NewFileSource(filepath.Join(t.TempDir(), "x.yaml"), time.Second).Load(context.Background())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load error %v is not fs.ErrNotExist", err)
	}
}

func TestFileSourceLoadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	if _, err := NewFileSource(path, time.Second).Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load error = %v, want context.Canceled", err)
	}
}

// watcher runs Watch on a source and turns what it reports into channels.
// After each poll Watch parks until the test resumes it, so that the test
// can change the file between polls, never during one (a poll must not see
// a file half written), and can count polls instead of sleeping.
type watcher struct {
	updates chan []Node
	fails   chan error
	parked  chan struct{}
	resume  chan struct{}
	done    chan struct{}
}

// startWatch loads path (which must hold a valid list), then watches it,
// polling every millisecond, until the test ends.
func startWatch(t *testing.T, path string) *watcher {
	t.Helper()
	s := NewFileSource(path, time.Millisecond)
	w := &watcher{
		updates: make(chan []Node, 100),
		fails:   make(chan error, 100),
		parked:  make(chan struct{}),
		resume:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.afterPoll = func() {
		select {
		case w.parked <- struct{}{}:
		case <-w.done:
			return
		}
		select {
		case <-w.resume:
		case <-w.done:
		}
	}
	if _, err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Watch(ctx, func(n []Node) { w.updates <- n }, func(err error) { w.fails <- err })
	}()
	t.Cleanup(func() {
		close(w.done)
		cancel()
		select {
		case <-stopped:
		case <-time.After(waitTimeout):
			t.Error("Watch did not return after cancel")
		}
	})
	return w
}

// park waits until Watch has finished a poll and is parked.
func (w *watcher) park(t *testing.T) {
	t.Helper()
	select {
	case <-w.parked:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a poll")
	}
}

// edit changes the file between two polls.
func (w *watcher) edit(t *testing.T, change func()) {
	t.Helper()
	w.park(t)
	change()
	w.resume <- struct{}{}
}

// waitPolls lets n more polls run to completion.
func (w *watcher) waitPolls(t *testing.T, n int) {
	t.Helper()
	for range n {
		w.park(t)
		w.resume <- struct{}{}
	}
}

func (w *watcher) wantUpdate(t *testing.T, want []Node) {
	t.Helper()
	timeout := time.After(waitTimeout) // for the whole wait, not per poll
	for {
		select {
		case got := <-w.updates:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("update(%v), want update(%v)", got, want)
			}
			return
		case err := <-w.fails:
			t.Fatalf("fail(%v), want update(%v)", err, want)
		case <-w.parked:
			w.resume <- struct{}{}
		case <-timeout:
			t.Fatalf("timed out waiting for update(%v)", want)
		}
	}
}

func (w *watcher) wantFail(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(waitTimeout) // for the whole wait, not per poll
	for {
		select {
		case got := <-w.updates:
			t.Fatalf("update(%v), want fail(%s)", got, want)
		case err := <-w.fails:
			if err.Error() != want {
				t.Fatalf("fail:\n got %v\nwant %s", err, want)
			}
			// A bad file lasts until it is replaced: never transient.
			if IsTransient(err) {
				t.Fatalf("fail(%v) reported as transient", err)
			}
			return
		case <-w.parked:
			w.resume <- struct{}{}
		case <-timeout:
			t.Fatalf("timed out waiting for fail(%s)", want)
		}
	}
}

// wantQuiet lets a few polls run and checks that none reported anything.
// Watch calls update or fail before it parks, so whatever those polls
// reported is in the channels when waitPolls returns.
func (w *watcher) wantQuiet(t *testing.T) {
	t.Helper()
	w.waitPolls(t, 5)
	select {
	case got := <-w.updates:
		t.Fatalf("unexpected update(%v)", got)
	case err := <-w.fails:
		t.Fatalf("unexpected fail(%v)", err)
	default:
	}
}

func TestWatchPicksUpChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	w := startWatch(t, path)
	w.wantQuiet(t) // Load saw fileA already

	w.edit(t, func() { writeFile(t, path, fileB) }) // in place: same inode, same size
	w.wantUpdate(t, listB)
	w.edit(t, func() { replaceFile(t, path, fileC) }) // rename over it: new inode
	w.wantUpdate(t, listC)
	w.wantQuiet(t)
}

func TestWatchBadContentKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	w := startWatch(t, path)

	w.edit(t, func() { writeFile(t, path, bad1) })
	w.wantFail(t, path+`: line 2: unknown key "hostip"`+"\n"+path+`: line 2: node "a": host_ip is required`)
	w.wantQuiet(t) // reported once, not on every poll

	w.edit(t, func() { replaceFile(t, path, bad2) }) // a different bad content is reported too
	w.wantFail(t, path+": line 1: node list is empty")
	w.wantQuiet(t)

	w.edit(t, func() { writeFile(t, path, fileA) }) // back to the list before the bad edits
	w.wantUpdate(t, listA)
	w.wantQuiet(t)
}

func TestWatchDeletedAndRecreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	w := startWatch(t, path)

	w.edit(t, func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	})
	w.wantFail(t, path+": no such file or directory")
	w.wantQuiet(t)

	w.edit(t, func() { writeFile(t, path, fileB) })
	w.wantUpdate(t, listB)
	w.wantQuiet(t)
}

func TestWatchIdenticalRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	w := startWatch(t, path)

	w.edit(t, func() { writeFile(t, path, fileA) })
	w.wantQuiet(t)
	w.edit(t, func() { replaceFile(t, path, fileA) })
	w.wantQuiet(t)
	w.edit(t, func() {
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	})
	w.wantQuiet(t)
}

// A rewrite of the same size that keeps the mtime (coarse timestamps, or
// a quick second write) is still seen while the mtime is recent.
func TestWatchSameSizeSameMtime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)

	w.edit(t, func() {
		writeFile(t, path, fileB)
		if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	})
	w.wantUpdate(t, listB)
}

// Kubernetes mounts a ConfigMap key as a symlink into "..data", itself a
// symlink to a timestamped directory that an update swaps atomically.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name, "nodes.yaml"), content)
	}
	version("..v1", fileA)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nodes.yaml")
	if err := os.Symlink("..data/nodes.yaml", path); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)

	version("..v2", fileB)
	w.edit(t, func() {
		if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	})
	w.wantUpdate(t, listB)
	w.wantQuiet(t)
}

// Without a Load first, Watch reports what the file holds right away.
func TestWatchWithoutLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	writeFile(t, path, fileA)
	s := NewFileSource(path, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []Node, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, func(n []Node) { got <- n; cancel() }, func(err error) { t.Errorf("fail(%v)", err) })
	}()
	select {
	case n := <-got:
		if !reflect.DeepEqual(n, listA) {
			t.Errorf("update(%v), want update(%v)", n, listA)
		}
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for update")
	}
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestNewFileSourceDefaultInterval(t *testing.T) {
	if got := NewFileSource("x", 0).interval; got != DefaultPollInterval {
		t.Errorf("interval = %v, want %v", got, DefaultPollInterval)
	}
}

var _ Source = (*FileSource)(nil)
