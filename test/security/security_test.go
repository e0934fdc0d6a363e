// Package security runs the real connectivity_exporter binary and checks who
// gets in: the admin socket only for root and the socket's group, the
// metrics server behind TLS and basic auth when --web.config.file says so.
// The daemons run passive (no namespaces) on loopback; the tests need root
// to build a binary other users may run and to switch users.
package security

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// world is a directory every user may enter: the binary and the sockets
// live below it, so that only their own modes decide who gets in.
var world, binary string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("security: skipping: the tests need root (other users, a root-owned admin socket)")
		os.Exit(m.Run())
	}
	var err error
	if world, err = os.MkdirTemp("", "cxh-security-"); err == nil {
		err = os.Chmod(world, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(world, "connectivity_exporter")
	if err := testbin.Build(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(world)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(world)
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs commands as other users against a root-owned admin socket")
	}
}

// daemon is a passive exporter on loopback ports.
type daemon struct {
	dir        string
	socket     string
	helloPort  int
	webPort    int
	log        bytes.Buffer
	cmd        *exec.Cmd
	terminated chan error
}

func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp(world, "d")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{dir: dir, socket: filepath.Join(dir, "run", "admin.sock"), helloPort: testbin.FreeLoopbackPort(t), webPort: testbin.FreeLoopbackPort(t)}
	args := append([]string{
		"--probe.passive", "--node.name=sec-1",
		fmt.Sprintf("--hello.listen-address=127.0.0.1:%d", d.helloPort),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", d.webPort),
		"--admin.socket=" + d.socket,
	}, extra...)
	d.cmd = exec.Command(binary, args...)
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.terminated = make(chan error, 1)
	go func() { d.terminated <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.terminated:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.terminated
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if out, err := exec.Command(binary, "ping", "--admin.socket="+d.socket).CombinedOutput(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the daemon does not answer ping: %v: %s\n%s", err, out, d.log.String())
		}
		select {
		case err := <-d.terminated:
			t.Fatalf("the daemon exited: %v\n%s", err, d.log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return d
}

// as runs the binary as another user.
func as(cred *syscall.Credential, args ...string) (code int, stdout, stderr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	default:
		return -1, out.String(), err.Error()
	}
}

const nobody = 65534

func TestAdminSocketRefusesOtherUsers(t *testing.T) {
	requireRoot(t)
	d := startDaemon(t)
	fi, err := os.Stat(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("admin socket: mode %v uid %d gid %d, want a socket 0660 root:root", fi.Mode(), st.Uid, st.Gid)
	}
	if lfi, err := os.Stat(d.socket + ".lock"); err != nil || lfi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v, want 0600", lfi.Mode(), err)
	}
	denied := "permission denied on " + d.socket + "; run as root or as a member of the socket's group"
	tests := []struct {
		name     string
		cred     *syscall.Credential
		args     []string
		wantCode int
		want     string // in stdout for 0, in stderr otherwise
	}{
		{"root may ping", nil, []string{"ping"}, 0, "OK"},
		{"nobody may not ping", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, []string{"ping"}, 3, denied},
		{"nobody may not read the status", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, []string{"status"}, 3, denied},
		{"nobody may not trigger a probe", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, []string{"status", "--probe"}, 3, denied},
		{"nobody may not get the daemon's state", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, []string{"get"}, 3, denied},
		{"a member of the socket's group may", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{0}}, []string{"ping"}, 0, "OK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := as(tc.cred, append(tc.args, "--admin.socket="+d.socket)...)
			got := stdout
			if tc.wantCode != 0 {
				got = stderr
			}
			if code != tc.wantCode || !strings.Contains(got, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.wantCode, tc.want)
			}
		})
	}
}

// tlsFiles writes a self-signed certificate for 127.0.0.1 and its key.
func tlsFiles(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "connectivity_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

func TestMetricsServerBehindTLSAndBasicAuth(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	certFile, keyFile, pool := tlsFiles(t, dir)
	const user, password = "prometheus", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "web-config.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, user, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--web.config.file="+config)

	trusting := &tls.Config{RootCAs: pool}
	tests := []struct {
		name       string
		scheme     string
		tls        *tls.Config
		user, pass string
		wantStatus int    // 0: the request itself must fail
		wantErr    string // for wantStatus 0
	}{
		{"TLS, no credentials", "https", trusting, "", "", http.StatusUnauthorized, ""},
		{"TLS, wrong password", "https", trusting, user, "wrong", http.StatusUnauthorized, ""},
		{"TLS, wrong user", "https", trusting, "admin", password, http.StatusUnauthorized, ""},
		{"TLS, right credentials", "https", trusting, user, password, http.StatusOK, ""},
		{"plain HTTP with the right credentials", "http", nil, user, password, http.StatusBadRequest, ""},
		{"TLS, certificate not trusted", "https", &tls.Config{}, user, password, 0, "certificate signed by unknown authority"},
		{"TLS 1.1 only", "https", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, user, password, 0, "protocol version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.tls, DisableKeepAlives: true, Proxy: nil}}
			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s://127.0.0.1:%d/metrics", tc.scheme, d.webPort), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := client.Do(req)
			if tc.wantStatus == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %s, want the request to fail with %q", resp.Status, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %s, want %d; body %.200s", resp.Status, tc.wantStatus, body)
			}
			hasMetrics := strings.Contains(string(body), "connectivity_build_info")
			if hasMetrics != (tc.wantStatus == http.StatusOK) {
				t.Fatalf("metrics in the answer: %v; body %.200s", hasMetrics, body)
			}
			if tc.wantStatus == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	// /hello stays plain and open by design: peers probe it without
	// credentials, and it tells nothing but "alive".
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/hello", d.helloPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
		t.Fatalf("/hello: %s %q", resp.Status, body)
	}
}
