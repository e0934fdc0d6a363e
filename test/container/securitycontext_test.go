package container

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// runAs is what a container runs with, as a manifest sets it: the flags
// that give podman the same settings, and what the test then checks in
// the running container.
type runAs struct {
	flags      []string
	uid, gid   int      // -1: the image's (USER 0:0 in the Dockerfile)
	caps       []string // added to an empty set, upper case without CAP_
	readOnly   bool     // root filesystem
	noNewPrivs bool
}

// imageUID is the Dockerfile's USER, which applies when a manifest sets no
// runAsUser.
const imageUID = 0

// podmanSecurity translates a pod's and its container's securityContext
// into podman run flags, as the kubelet and a CRI runtime apply them:
// container fields override the pod's. Anything it cannot reproduce
// exactly is an error, so that the test never runs a container with
// settings other than the manifest's.
func podmanSecurity(pod *corev1.PodSecurityContext, c *corev1.SecurityContext) (runAs, error) {
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if c == nil {
		c = &corev1.SecurityContext{}
	}
	r := runAs{uid: -1, gid: -1}

	uid, gid := c.RunAsUser, c.RunAsGroup
	if uid == nil {
		uid = pod.RunAsUser
	}
	if gid == nil {
		gid = pod.RunAsGroup
	}
	switch {
	case uid != nil && gid != nil:
		r.flags = append(r.flags, fmt.Sprintf("--user=%d:%d", *uid, *gid))
		r.uid, r.gid = int(*uid), int(*gid)
	case uid != nil:
		r.flags = append(r.flags, fmt.Sprintf("--user=%d", *uid))
		r.uid = int(*uid)
	case gid != nil:
		return r, fmt.Errorf("runAsGroup without runAsUser: not translated; set both")
	}
	nonRoot := c.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	effectiveUID := imageUID
	if r.uid >= 0 {
		effectiveUID = r.uid
	}
	if nonRoot != nil && *nonRoot && effectiveUID == 0 {
		return r, fmt.Errorf("runAsNonRoot with uid 0: the kubelet would refuse to start this container")
	}
	for _, g := range pod.SupplementalGroups {
		r.flags = append(r.flags, "--group-add="+strconv.FormatInt(g, 10))
	}
	if pod.FSGroup != nil {
		// The kubelet adds fsGroup to the supplemental groups.
		r.flags = append(r.flags, "--group-add="+strconv.FormatInt(*pod.FSGroup, 10))
	}

	if c.Privileged != nil && *c.Privileged {
		return r, fmt.Errorf("privileged: not translated (the test runs unprivileged containers only)")
	}
	caps := c.Capabilities
	if caps == nil || !slices.Contains(caps.Drop, "ALL") {
		// The runtimes' default sets differ (containerd's has NET_RAW and
		// MKNOD, podman's does not): only "drop ALL, add X" is the same
		// everywhere.
		return r, fmt.Errorf("capabilities.drop lacks ALL: the default capability set differs between runtimes, so the test cannot reproduce it")
	}
	r.flags = append(r.flags, "--cap-drop=ALL")
	for _, a := range caps.Add {
		name := strings.TrimPrefix(strings.ToUpper(string(a)), "CAP_")
		r.caps = append(r.caps, name)
		r.flags = append(r.flags, "--cap-add="+name)
	}
	slices.Sort(r.caps)
	if len(r.caps) > 0 && effectiveUID != 0 {
		// podman passes added capabilities to a non-root process as
		// ambient ones; the kubelet does not, so the process would have
		// them here and not on a cluster.
		return r, fmt.Errorf("capabilities %v for uid %d: runtimes give them differently to a non-root user; the test cannot reproduce it", r.caps, effectiveUID)
	}

	if c.ReadOnlyRootFilesystem != nil && *c.ReadOnlyRootFilesystem {
		r.readOnly = true
		r.flags = append(r.flags, "--read-only")
	}
	// podman's --read-only also mounts tmpfs on /run, /tmp and /var/tmp;
	// Kubernetes does not, so neither does the test.
	r.flags = append(r.flags, "--read-only-tmpfs=false")
	if c.AllowPrivilegeEscalation != nil && !*c.AllowPrivilegeEscalation {
		r.noNewPrivs = true
		r.flags = append(r.flags, "--security-opt=no-new-privileges")
	}

	seccomp := c.SeccompProfile
	if seccomp == nil {
		seccomp = pod.SeccompProfile
	}
	switch {
	case seccomp == nil, seccomp.Type == corev1.SeccompProfileTypeUnconfined:
		// Unset is Unconfined on a kubelet without --seccomp-default.
		r.flags = append(r.flags, "--security-opt=seccomp=unconfined")
	case seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault:
		// podman's default profile.
	default:
		return r, fmt.Errorf("seccompProfile %s: not translated", seccomp.Type)
	}
	apparmor := c.AppArmorProfile
	if apparmor == nil {
		apparmor = pod.AppArmorProfile
	}
	switch {
	case apparmor == nil, apparmor.Type == corev1.AppArmorProfileTypeRuntimeDefault:
	case apparmor.Type == corev1.AppArmorProfileTypeUnconfined:
		r.flags = append(r.flags, "--security-opt=apparmor=unconfined")
	default:
		return r, fmt.Errorf("appArmorProfile %s: not translated", apparmor.Type)
	}

	switch {
	case c.SELinuxOptions != nil || pod.SELinuxOptions != nil:
		return r, fmt.Errorf("seLinuxOptions: not translated")
	case c.ProcMount != nil && *c.ProcMount != corev1.DefaultProcMount:
		return r, fmt.Errorf("procMount %s: not translated", *c.ProcMount)
	case len(pod.Sysctls) > 0:
		return r, fmt.Errorf("pod sysctls: not translated")
	case c.WindowsOptions != nil || pod.WindowsOptions != nil:
		return r, fmt.Errorf("windowsOptions on a Linux DaemonSet")
	}
	return r, nil
}

// podmanVolumes gives the container the manifest's emptyDir volumes as
// tmpfs mounts (a writable directory on a read-only root, as the kubelet
// gives it). Other volume types have no meaning in the lab; they are
// returned so that the test can say it left them out.
func podmanVolumes(spec corev1.PodSpec, c corev1.Container) (flags, skipped []string) {
	kinds := map[string]corev1.VolumeSource{}
	for _, v := range spec.Volumes {
		kinds[v.Name] = v.VolumeSource
	}
	for _, m := range c.VolumeMounts {
		if src, ok := kinds[m.Name]; ok && src.EmptyDir != nil {
			flags = append(flags, "--tmpfs="+m.MountPath)
			continue
		}
		skipped = append(skipped, m.Name+" at "+m.MountPath)
	}
	return flags, skipped
}

func TestPodmanSecurity(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	yes, no := func() *bool { b := true; return &b }(), func() *bool { b := false; return &b }()
	dropAll := func(add ...corev1.Capability) *corev1.Capabilities {
		return &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: add}
	}
	runtimeDefault := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	for _, tc := range []struct {
		name    string
		pod     *corev1.PodSecurityContext
		c       *corev1.SecurityContext
		want    []string // flags, in order
		uid     int
		caps    []string
		wantErr string
	}{{
		name: "exporter: root, NET_RAW, read-only",
		c:    &corev1.SecurityContext{RunAsUser: i64(0), ReadOnlyRootFilesystem: yes, Capabilities: dropAll("NET_RAW"), SeccompProfile: runtimeDefault},
		want: []string{"--user=0", "--cap-drop=ALL", "--cap-add=NET_RAW", "--read-only", "--read-only-tmpfs=false"},
		uid:  0, caps: []string{"NET_RAW"},
	}, {
		name: "health pod: pod-level user, no capabilities, no escalation",
		pod:  &corev1.PodSecurityContext{RunAsUser: i64(65534), RunAsGroup: i64(65534), RunAsNonRoot: yes, SeccompProfile: runtimeDefault},
		c:    &corev1.SecurityContext{ReadOnlyRootFilesystem: yes, AllowPrivilegeEscalation: no, Capabilities: dropAll()},
		want: []string{"--user=65534:65534", "--cap-drop=ALL", "--read-only", "--read-only-tmpfs=false", "--security-opt=no-new-privileges"},
		uid:  65534,
	}, {
		name: "container overrides the pod; unset seccomp is unconfined; CAP_ prefix",
		pod:  &corev1.PodSecurityContext{RunAsUser: i64(1000), FSGroup: i64(2000)},
		c:    &corev1.SecurityContext{RunAsUser: i64(0), Capabilities: dropAll("cap_sys_admin"), AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}},
		want: []string{"--user=0", "--group-add=2000", "--cap-drop=ALL", "--cap-add=SYS_ADMIN", "--read-only-tmpfs=false", "--security-opt=seccomp=unconfined", "--security-opt=apparmor=unconfined"},
		uid:  0, caps: []string{"SYS_ADMIN"},
	}, {
		name:    "runAsNonRoot with the image's root user",
		c:       &corev1.SecurityContext{RunAsNonRoot: yes, Capabilities: dropAll()},
		wantErr: "runAsNonRoot with uid 0",
	}, {
		name:    "capabilities for a non-root user",
		c:       &corev1.SecurityContext{RunAsUser: i64(1000), Capabilities: dropAll("NET_RAW")},
		wantErr: "capabilities [NET_RAW] for uid 1000",
	}, {
		name:    "default capability set",
		c:       &corev1.SecurityContext{RunAsUser: i64(0)},
		wantErr: "capabilities.drop lacks ALL",
	}, {
		name:    "privileged",
		c:       &corev1.SecurityContext{Privileged: yes, Capabilities: dropAll()},
		wantErr: "privileged",
	}, {
		name:    "localhost seccomp profile",
		c:       &corev1.SecurityContext{Capabilities: dropAll(), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}},
		wantErr: "seccompProfile Localhost",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := podmanSecurity(tc.pod, tc.c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.flags, tc.want) {
				t.Errorf("flags\n got %q\nwant %q", got.flags, tc.want)
			}
			if got.uid != tc.uid || !slices.Equal(got.caps, tc.caps) {
				t.Errorf("uid %d caps %v, want %d %v", got.uid, got.caps, tc.uid, tc.caps)
			}
		})
	}
}

func TestPodmanVolumes(t *testing.T) {
	spec := corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "netns", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/netns"}}},
	}}
	c := corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "netns", MountPath: "/run/netns"}, {Name: "run", MountPath: "/run/connectivity_exporter"}}}
	flags, skipped := podmanVolumes(spec, c)
	if want := []string{"--tmpfs=/run/connectivity_exporter"}; !slices.Equal(flags, want) {
		t.Errorf("flags %q, want %q", flags, want)
	}
	if want := []string{"netns at /run/netns"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %q, want %q", skipped, want)
	}
}
