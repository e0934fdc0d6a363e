package cluster

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"time"
)

// imageFile is one file of a one-layer image.
type imageFile struct {
	path string // inside the image, e.g. "/connectivity_exporter"
	src  string // on this machine
	mode int64
}

// imageSpec is a one-layer image made from local files: what a Dockerfile
// with FROM scratch and a few COPY lines makes.
type imageSpec struct {
	ref        string // name:tag
	files      []imageFile
	entrypoint []string
	user       string
	ports      []string // e.g. "9240/tcp"
}

// writeDockerArchive writes spec as a docker-archive tarball (what `docker
// save` and `podman save` write, and `ctr images import` reads): the layer,
// its config and manifest.json.
func writeDockerArchive(w io.Writer, spec imageSpec) error {
	layer, err := layerTar(spec.files)
	if err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer)
	layerID := hex.EncodeToString(layerSum[:])
	exposed := map[string]struct{}{}
	for _, p := range spec.ports {
		exposed[p] = struct{}{}
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC(),
		"config": map[string]any{
			"Entrypoint":   spec.entrypoint,
			"User":         spec.user,
			"ExposedPorts": exposed,
			"Env":          []string{"PATH=/"},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{spec.ref},
		"Layers":   []string{layerID + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{layerID + "/layer.tar", layer},
		{configName, config},
		{"manifest.json", manifest},
	} {
		if err := writeTarFile(tw, f.name, 0o644, f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// layerTar is the layer: the files and the directories above them.
func layerTar(files []imageFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.path); d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(f.src)
		if err != nil {
			return nil, fmt.Errorf("image file: %w", err)
		}
		if err := writeTarFile(tw, f.path[1:], f.mode, data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeTarFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
