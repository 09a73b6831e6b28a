//go:build linux

package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/realtest"
)

// syslogLine is serveLine(path, 200) behind the RFC 3164 header nginx
// writes.
func syslogLine(path string) string {
	return "<190>Dec  6 10:00:00 web01 nginx: " + serveLine(path, 200)
}

// waitMetric scrapes httpAddr until the series has the value want, and
// returns the last scrape.
func waitMetric(t *testing.T, httpAddr, series string, want float64) map[string]float64 {
	t.Helper()
	var m map[string]float64
	realtest.WaitFor(t, fmt.Sprintf("%s = %v", series, want), func() bool {
		m = scrape(t, httpAddr)
		return m[series] == want
	})
	return m
}

// listenerSeries returns the series name of a listener family.
func listenerSeries(family, addr, transport string) string {
	return fmt.Sprintf(`%s{listener=%q,transport=%q}`, family, addr, transport)
}

// TestServeTransports runs serve with a listener of each transport at once
// (UDP, a unix socket with --socket-mode, TCP with --max-connections, TLS
// with a client CA), sends lines to each from Go clients, and checks every
// listener's counts on /metrics (promtool-clean) and in the final counts,
// refused connections and failed handshakes included.
func TestServeTransports(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ingest.sock")
	ca := realtest.NewCA(t, "serve test CA")
	certFile, keyFile, caFile := ca.Files(t, dir, 1)
	clientCert, clientKey := ca.Issue(t, 2)
	pair, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	cmd, _, httpAddr, stdout, log := startServeLog(t, "--listen", "127.0.0.1:0", "--listen", "unix:"+sock,
		"--listen", "tcp://127.0.0.1:0", "--listen", "tls://127.0.0.1:0",
		"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile,
		"--socket-mode", "0660", "--max-connections", "2")
	addrs := serveAddrs(t, log)
	udp, tcp, tlsAddr := addrs["udp"][0], addrs["tcp"][0], addrs["tls"][0]
	if addrs["unix"][0] != sock || len(addrs["tail"]) != 0 {
		t.Fatalf("start-up line %q", log.find("msg=serving"))
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file: %v, %v", fi, err)
	}

	// UDP: 3 lines.
	sendLines(t, udp, serveLine("/u/1", 200), serveLine("/u/2", 200), serveLine("/u/3", 200))
	// unix: 4 datagrams, fewer than the socket's queue of 10.
	uc, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := uc.Write([]byte(syslogLine("/x/" + strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
	}
	uc.Close()
	// TCP: 5 frames with octet counting, 5 with LF framing, on one
	// connection; a second one stays open, and a third is refused.
	c1, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	var frames strings.Builder
	for i := range 5 {
		l := syslogLine("/t/" + strconv.Itoa(i))
		fmt.Fprintf(&frames, "%d %s", len(l), l)
	}
	for i := 5; i < 10; i++ {
		frames.WriteString(syslogLine("/t/"+strconv.Itoa(i)) + "\n")
	}
	if _, err := io.WriteString(c1, frames.String()); err != nil {
		t.Fatal(err)
	}
	c2, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	waitMetric(t, httpAddr, listenerSeries("ingest_listener_connections", tcp, "tcp"), 2)
	// The third is accepted and reset at once: the dial or the first read
	// fails.
	if c3, err := net.Dial("tcp", tcp); err == nil {
		c3.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c3.Read(make([]byte, 1)); err == nil {
			t.Error("a third connection was served with --max-connections 2")
		}
		c3.Close()
	}
	c1.Close()
	// TLS: 6 lines with a client certificate; a client without one fails
	// its handshake.
	tc, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		l := syslogLine("/s/" + strconv.Itoa(i))
		if _, err := fmt.Fprintf(tc, "%d %s", len(l), l); err != nil {
			t.Fatal(err)
		}
	}
	tc.Close()
	if bad, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}); err == nil {
		// TLS 1.3: the client learns of the refusal at its first read.
		bad.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := bad.Read(make([]byte, 1)); err == nil {
			t.Error("a client without a certificate was served")
		}
		bad.Close()
	}

	waitMetric(t, httpAddr, "ingest_lines_total", 3+4+10+6)
	m := waitMetric(t, httpAddr, listenerSeries("ingest_listener_tls_handshake_errors_total", tlsAddr, "tls"), 1)
	m = waitMetric(t, httpAddr, listenerSeries("ingest_listener_connections_refused_total", tcp, "tcp"), 1)
	for series, want := range map[string]float64{
		listenerSeries("ingest_listener_lines_total", udp, "udp"):                                   3,
		listenerSeries("ingest_listener_datagrams_total", udp, "udp"):                               3,
		listenerSeries("ingest_listener_lines_total", sock, "unix"):                                 4,
		listenerSeries("ingest_listener_parsed_total", sock, "unix"):                                4,
		listenerSeries("ingest_listener_lines_total", tcp, "tcp"):                                   10,
		listenerSeries("ingest_listener_frames_total", tcp, "tcp"):                                  10,
		listenerSeries("ingest_listener_connections_opened_total", tcp, "tcp"):                      2,
		listenerSeries("ingest_listener_lines_total", tlsAddr, "tls"):                               6,
		listenerSeries("ingest_listener_parse_errors_total", tlsAddr, "tls"):                        0,
		listenerSeries("ingest_listener_tls_cert_reloads_total", tlsAddr, "tls"):                    0,
		listenerSeries("ingest_listener_connections_opened_total", tlsAddr, "tls"):                  2,
		`ingest_listener_framing_errors_total{listener="` + tcp + `",transport="tcp",reason="cut"}`: 0,
		`ingest_listener_dropped_total{listener="` + udp + `",transport="udp",reason="kernel"}`:     0,
		`ingest_budget_limit_entries{name="connections"}`:                                           4,
		`http_requests_total{vhost="",route="/t/{id}",method="GET",status="200"}`:                   9, // the first seen once: {unadmitted}
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	if _, ok := m[`ingest_listener_datagrams_total{listener="`+tcp+`",transport="tcp"}`]; ok {
		t.Error("a datagram count for a TCP listener")
	}
	checkPromtool(t, httpAddr)

	// A renewed certificate is loaded without a restart (checked every
	// 5 s), and served to the next connection.
	cert3, key3 := ca.Issue(t, 3)
	realtest.WriteFile(t, dir, "key.pem.new", key3)
	realtest.WriteFile(t, dir, "cert.pem.new", cert3)
	for _, f := range []string{keyFile, certFile} {
		if err := os.Rename(f+".new", f); err != nil {
			t.Fatal(err)
		}
	}
	reloads := listenerSeries("ingest_listener_tls_cert_reloads_total", tlsAddr, "tls")
	realtest.WaitFor(t, "the certificate reloaded", func() bool { return scrape(t, httpAddr)[reloads] >= 1 })
	tc, err = tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	if serial := tc.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); serial != 3 {
		t.Errorf("after the reload the certificate served is serial %d, want 3", serial)
	}
	tc.Close()

	c2.Close()
	totals, perInput := stopServe(t, cmd, stdout)
	if totals["lines"] != "23" || totals["parsed"] != "23" {
		t.Errorf("final totals %v", totals)
	}
	for prefix, want := range map[string]string{"listener udp " + udp: "3", "listener unix " + sock: "4",
		"listener tcp " + tcp: "10", "listener tls " + tlsAddr: "6"} {
		if got := inputCounts(t, perInput, prefix)["lines"]; got != want {
			t.Errorf("%s: lines %s, want %s", prefix, got, want)
		}
	}
	if got := inputCounts(t, perInput, "listener tls "+tlsAddr)["tls_handshake_errors"]; got != "1" {
		t.Errorf("tls handshake errors %s", got)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket file is left after the stop: %v", err)
	}
}
