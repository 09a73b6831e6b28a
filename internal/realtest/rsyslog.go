package realtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// StartRsyslogd starts rsyslogd in the foreground with conf, to which a
// global workDirectory in dir is added, its configuration file and pid
// file in dir. It checks the configuration first (rsyslogd -N1).
func StartRsyslogd(t testing.TB, dir, conf string) *Proc {
	t.Helper()
	bin := Need(t, Rsyslogd, "rsyslogd")
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	conf = fmt.Sprintf("global(workDirectory=%q)\n%s", work, conf)
	f := WriteFile(t, dir, "rsyslog.conf", []byte(conf))
	if out, err := exec.Command(bin, "-N1", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1: %v\n%s", err, out)
	}
	return Start(t, syscall.SIGTERM, nil, bin, "-n", "-f", f, "-i", filepath.Join(dir, "rsyslogd.pid"))
}

// RsyslogInput is the rsyslog configuration of an input on the unix
// socket sock, as logger writes to it: no rate limit, the host name
// parsed from the header.
func RsyslogInput(sock string) string {
	return fmt.Sprintf(`module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%q UseSpecialParser="off" ParseHostname="on" RateLimit.Interval="0")
`, sock)
}

// Logger sends lines to the unix datagram socket sock with util-linux
// logger, tag "nginx", in RFC 5424 or RFC 3164, once the socket exists.
// The lines go through a file in dir.
func Logger(t testing.TB, dir, sock string, rfc5424 bool, lines []string) {
	t.Helper()
	bin := Need(t, LoggerBin, "util-linux logger (bsdutils)")
	format := "--rfc3164"
	if rfc5424 {
		format = "--rfc5424"
	}
	f := WriteFile(t, dir, "lines"+format, []byte(strings.Join(lines, "\n")+"\n"))
	WaitFor(t, "the input socket", func() bool { _, err := os.Stat(sock); return err == nil })
	if out, err := exec.Command(bin, format, "--socket-errors=on", "-u", sock, "-t", "nginx", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
}

// RsyslogTLSGlobal is the global configuration of rsyslog's gtls driver:
// the CA that signed the server's certificate, and the client's
// certificate and key.
func RsyslogTLSGlobal(caFile, certFile, keyFile string) string {
	return fmt.Sprintf("global(DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q)\n",
		caFile, certFile, keyFile)
}

// RsyslogForward returns an omfwd action that forwards everything to
// 127.0.0.1:port over TCP with framing ("octet-counted" or "traditional")
// and template ("" for rsyslog's default); with tls, over TLS (gtls,
// see RsyslogTLSGlobal), checking that the server's certificate names
// "localhost".
func RsyslogForward(port, framing, template string, tls bool) string {
	a := fmt.Sprintf(`action(type="omfwd" target="127.0.0.1" port=%q protocol="tcp" TCP_Framing=%q`, port, framing)
	if template != "" {
		a += fmt.Sprintf(" template=%q", template)
	}
	if tls {
		a += `
	StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"`
	}
	return a + ")\n"
}
