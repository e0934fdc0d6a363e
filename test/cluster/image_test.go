package cluster

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteDockerArchive(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := writeDockerArchive(&buf, imageSpec{
		ref:        "example:1",
		files:      []imageFile{{path: "/usr/bin/x", src: src, mode: 0o755}},
		entrypoint: []string{"/usr/bin/x"},
		user:       "65534",
	})
	if err != nil {
		t.Fatal(err)
	}
	entries := readTar(t, buf.Bytes())
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || len(manifest[0].Layers) != 1 || manifest[0].RepoTags[0] != "example:1" {
		t.Fatalf("manifest: %+v", manifest)
	}
	var config struct {
		Config struct {
			Entrypoint []string
			User       string
		} `json:"config"`
	}
	if err := json.Unmarshal(entries[manifest[0].Config], &config); err != nil {
		t.Fatal(err)
	}
	if config.Config.User != "65534" || config.Config.Entrypoint[0] != "/usr/bin/x" {
		t.Errorf("config: %+v", config)
	}
	layer := readTar(t, entries[manifest[0].Layers[0]])
	if string(layer["usr/bin/x"]) != "#!binary" {
		t.Errorf("layer holds %q", layer)
	}
	if _, ok := layer["usr/bin/"]; !ok {
		t.Error("layer lacks the parent directories")
	}
}

func readTar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}
