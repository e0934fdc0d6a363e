package healthep

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

func validConfig() Config {
	return Config{
		IP:            netip.MustParseAddr("198.19.0.1"),
		Netns:         DefaultNetns,
		HostInterface: DefaultHostInterface,
		HelloPort:     hello.DefaultPort,
		CheckInterval: DefaultCheckInterval,
		CheckTimeout:  DefaultCheckTimeout,
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"ipv6", func(c *Config) { c.IP = netip.MustParseAddr("2001:db8::1") }, nil},
		{"timeout equals interval", func(c *Config) { c.CheckTimeout = c.CheckInterval }, nil},
		{"15 byte interface", func(c *Config) { c.HostInterface = "abcdefghijklmno" }, nil},
		{"no ip", func(c *Config) { c.IP = netip.Addr{} }, []string{"health IP is not set"}},
		{"unspecified ip", func(c *Config) { c.IP = netip.IPv4Unspecified() }, []string{"not a routable unicast"}},
		{"loopback ip", func(c *Config) { c.IP = netip.MustParseAddr("127.0.0.1") }, []string{"not a routable unicast"}},
		{"multicast ip", func(c *Config) { c.IP = netip.MustParseAddr("ff02::1") }, []string{"not a routable unicast"}},
		{"link-local ip", func(c *Config) { c.IP = netip.MustParseAddr("169.254.1.1") }, []string{"not a routable unicast"}},
		{"broadcast ip", func(c *Config) { c.IP = netip.MustParseAddr("255.255.255.255") }, []string{"not a routable unicast"}},
		{"mapped ip", func(c *Config) { c.IP = netip.MustParseAddr("::ffff:198.19.0.1") }, []string{"IPv4-mapped", "198.19.0.1"}},
		{"zoned ip", func(c *Config) { c.IP = netip.MustParseAddr("2001:db8::1%eth0") }, []string{"zone"}},
		{"empty netns", func(c *Config) { c.Netns = "" }, []string{"netns name is empty"}},
		{"netns with slash", func(c *Config) { c.Netns = "a/b" }, []string{"plain file name"}},
		{"netns dotdot", func(c *Config) { c.Netns = ".." }, []string{"plain file name"}},
		{"netns too long", func(c *Config) { c.Netns = strings.Repeat("n", 256) }, []string{"at most 255"}},
		{"empty interface", func(c *Config) { c.HostInterface = "" }, []string{"host interface name is empty"}},
		{"16 byte interface", func(c *Config) { c.HostInterface = "abcdefghijklmnop" }, []string{"at most 15"}},
		{"interface with colon", func(c *Config) { c.HostInterface = "cx:0" }, []string{"must not be"}},
		{"interface with space", func(c *Config) { c.HostInterface = "cx 0" }, []string{"must not be"}},
		{"interface lo", func(c *Config) { c.HostInterface = "lo" }, []string{`must not be "lo"`}},
		{"port zero", func(c *Config) { c.HelloPort = 0 }, []string{"hello port 0 is out of range"}},
		{"port too big", func(c *Config) { c.HelloPort = 65536 }, []string{"hello port 65536 is out of range"}},
		{"zero interval", func(c *Config) { c.CheckInterval = 0 }, []string{"check interval 0s must be positive"}},
		{"negative timeout", func(c *Config) { c.CheckTimeout = -time.Second }, []string{"check timeout -1s must be positive"}},
		{"timeout above interval", func(c *Config) { c.CheckTimeout = 6 * time.Second }, []string{"must not exceed check interval"}},
		{"all reported at once", func(c *Config) { *c = Config{} }, []string{
			"health IP is not set", "netns name is empty", "host interface name is empty",
			"hello port 0", "check interval 0s", "check timeout 0s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "healthep: invalid config: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewControllerRejectsBadConfig(t *testing.T) {
	if _, err := NewController(Config{}, nopReporter{}, nil); err == nil {
		t.Fatal("NewController accepted an empty config")
	}
	if _, err := NewController(validConfig(), nil, nil); err == nil {
		t.Fatal("NewController accepted a nil Reporter")
	}
	c, err := NewController(validConfig(), nopReporter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status().Up {
		t.Fatal("a controller that never ran reports up")
	}
}

type nopReporter struct{}

func (nopReporter) SetHealthEndpointUp(bool) {}
func (nopReporter) HealthEndpointRestarted() {}
