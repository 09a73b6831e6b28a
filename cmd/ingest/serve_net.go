package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// addrInUseHint adds to an "address in use" error how to share the port.
func addrInUseHint(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another process holds the port; to share it, give --reuse-port to every process that binds it", err)
	}
	return err
}

// defaultInstance returns the host name and the port of addr.
func defaultInstance(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	port := ""
	if ua, ok := addr.(*net.UDPAddr); ok {
		port = strconv.Itoa(ua.Port)
	} else if _, p, err := net.SplitHostPort(addr.String()); err == nil {
		port = p
	}
	return host + ":" + port
}

// buildVersion returns the main module's version, with the VCS revision
// when the binary was built from a checkout.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 && v == "(devel)" {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// promLabelValue escapes s for a Prometheus label value in the text
// format: backslash, double quote and newline.
func promLabelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// isSet reports whether the flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// allowText returns the allowed networks as the start-up line shows them.
func allowText(allowed []netip.Prefix) string {
	if len(allowed) == 0 {
		return "all"
	}
	var b strings.Builder
	for i, p := range allowed {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
	}
	return b.String()
}
