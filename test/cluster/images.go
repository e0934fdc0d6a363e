package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pauseImage is the sandbox image, made from cmd/pause; containerd pins it
// under its full name.
const pauseImage = "docker.io/library/connectivity-cluster-pause:1"

// ExporterImageName is the image name the manifests use.
const ExporterImageName = "connectivity-exporter"

// writeImages writes the two image tarballs into c.Dir/images: the pause
// image and the exporter's (make build's binary at /connectivity_exporter,
// user 0, as the Dockerfile makes it on scratch). The exporter's tag is its
// binary's hash, so a rebuilt binary is a new tag.
func (c *Cluster) writeImages() error {
	dir := filepath.Join(c.Dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tag, err := fileTag(c.opts.ExporterBinary)
	if err != nil {
		return err
	}
	c.ExporterImage = ExporterImageName + ":" + tag
	specs := map[string]imageSpec{
		"pause.tar": {
			ref:        pauseImage,
			files:      []imageFile{{path: "/pause", src: c.bins.Path("pause"), mode: 0o755}},
			entrypoint: []string{"/pause"},
			user:       "65535",
		},
		"exporter.tar": {
			ref: c.ExporterImage,
			files: []imageFile{
				{path: "/connectivity_exporter", src: c.opts.ExporterBinary, mode: 0o755},
				{path: "/license/LICENSE", src: filepath.Join(RepoDir(), "LICENSE"), mode: 0o644},
			},
			entrypoint: []string{"/connectivity_exporter"},
			user:       "0:0",
			ports:      []string{"9240/tcp", "4240/tcp"},
		},
	}
	for name, spec := range specs {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := writeDockerArchive(f, spec); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// fileTag is a short hash of a file, for an image tag.
func fileTag(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("exporter binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// importImages loads the image tarballs into n's containerd, in the
// namespace the CRI plugin uses.
func (c *Cluster) importImages(n *node) error {
	for _, name := range []string{"pause.tar", "exporter.tar"} {
		if err := c.ImportImage(n.name, filepath.Join(c.Dir, "images", name)); err != nil {
			return err
		}
	}
	return nil
}

// ImportImage loads a docker-archive tarball into node's containerd (a new
// image for a rollout, say).
func (c *Cluster) ImportImage(node, tarball string) error {
	c.mu.Lock()
	n, ok := c.nodes[node]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("no node %q", node)
	}
	// -a must be absolute: a relative socket path is refused.
	out, err := exec.Command(c.bins.Path("ctr"), "-a", c.containerdSocket(n), "-n", "k8s.io",
		"images", "import", tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import %s on %s: %w: %s", filepath.Base(tarball), node, err, strings.TrimSpace(string(out)))
	}
	return nil
}
