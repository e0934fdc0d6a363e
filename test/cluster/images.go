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
// image and the exporter's (see exporterImage).
func (c *Cluster) writeImages() error {
	dir := filepath.Join(c.Dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pause := imageSpec{
		ref:        pauseImage,
		files:      []imageFile{{path: "/pause", src: c.bins.Path("pause"), mode: 0o755}},
		entrypoint: []string{"/pause"},
		user:       "65535",
	}
	if err := writeImageFile(filepath.Join(dir, "pause.tar"), pause); err != nil {
		return err
	}
	exporter, err := exporterImage(c.opts.ExporterBinary)
	if err != nil {
		return err
	}
	c.ExporterImage = exporter.ref
	return writeImageFile(filepath.Join(dir, "exporter-"+imageTag(exporter.ref)+".tar"), exporter)
}

// exporterImage is the image the Dockerfile makes on scratch: binary at
// /connectivity_exporter, user 0. Its tag is the binary's hash, so a
// rebuilt binary is a new tag.
func exporterImage(binary string) (imageSpec, error) {
	tag, err := fileTag(binary)
	if err != nil {
		return imageSpec{}, err
	}
	return imageSpec{
		ref: ExporterImageName + ":" + tag,
		files: []imageFile{
			{path: "/connectivity_exporter", src: binary, mode: 0o755},
			{path: "/license/LICENSE", src: filepath.Join(RepoDir(), "LICENSE"), mode: 0o644},
		},
		entrypoint: []string{"/connectivity_exporter"},
		user:       "0:0",
		ports:      []string{"9240/tcp", "4240/tcp"},
	}, nil
}

func imageTag(ref string) string {
	_, tag, _ := strings.Cut(ref, ":")
	return tag
}

func writeImageFile(path string, spec imageSpec) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeDockerArchive(f, spec); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// LoadExporterImage packs binary as an exporter image (its tag the
// binary's hash) and imports it on every node, and on nodes added later;
// it returns the image's name:tag, for a rollout to a new version.
func (c *Cluster) LoadExporterImage(binary string) (string, error) {
	spec, err := exporterImage(binary)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.Dir, "images", "exporter-"+imageTag(spec.ref)+".tar")
	if err := writeImageFile(path, spec); err != nil {
		return "", err
	}
	for _, n := range c.Nodes() {
		if err := c.ImportImage(n, path); err != nil {
			return "", err
		}
	}
	return spec.ref, nil
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

// importImages loads every image tarball of the cluster into n's
// containerd, in the namespace the CRI plugin uses.
func (c *Cluster) importImages(n *node) error {
	tarballs, err := filepath.Glob(filepath.Join(c.Dir, "images", "*.tar"))
	if err != nil {
		return err
	}
	for _, t := range tarballs {
		if err := c.ImportImage(n.name, t); err != nil {
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
