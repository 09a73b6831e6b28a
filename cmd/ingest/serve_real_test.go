//go:build linux

package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flatheap/ingest/internal/realtest"
)

// TestServeRealSenders runs one serve with four listeners and real senders
// on each: nginx logging to the unix socket, and rsyslog forwarding what
// logger gave it over TCP with octet counting, over TCP with LF framing,
// and over TLS (gtls, with a client certificate that serve requires).
// Every listener counts exactly the lines sent to it, and the route totals
// add up to all of them.
func TestServeRealSenders(t *testing.T) {
	realtest.Need(t, realtest.Nginx, "nginx")
	realtest.Need(t, realtest.Rsyslogd, "rsyslogd")
	realtest.NeedGTLS(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "ingest.sock")
	ca := realtest.NewCA(t, "serve test CA")
	certFile, keyFile, caFile := ca.Files(t, dir, 1)
	clientCert, clientKey := ca.Issue(t, 2)
	cmd, _, httpAddr, stdout, log := startServeLog(t, "--listen", "unix:"+sock,
		"--listen", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0", "--listen", "tls://127.0.0.1:0",
		"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile)
	addrs := serveAddrs(t, log)
	octet, lf, tlsAddr := addrs["tcp"][0], addrs["tcp"][1], addrs["tls"][0]
	if len(addrs["tcp"]) != 2 || octet == lf {
		t.Fatalf("start-up line %q", log.find("msg=serving"))
	}

	// nginx to the unix socket, which queues 10 datagrams: keep fewer in
	// flight, so that a loaded machine loses none.
	ng := realtest.NewNginx(t)
	ng.Start(t, "syslog:server=unix:"+sock+" combined")
	client := &http.Client{Timeout: realtest.Timeout}
	defer client.CloseIdleConnections()
	const nginxRequests = 300
	unixLines := listenerSeries("ingest_listener_lines_total", sock, "unix")
	for i := range nginxRequests {
		ng.Get(t, client, 0, "/users/"+strconv.Itoa(i))
		if i%5 == 4 {
			waitMetric(t, httpAddr, unixLines, float64(i+1))
		}
	}

	// rsyslog: one input, three forwards.
	in := filepath.Join(dir, "in.sock")
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	p := realtest.StartRsyslogd(t, dir,
		realtest.RsyslogTLSGlobal(caFile, realtest.WriteFile(t, dir, "client.pem", clientCert), realtest.WriteFile(t, dir, "client-key.pem", clientKey))+
			realtest.RsyslogInput(in)+
			realtest.RsyslogForward(port(octet), "octet-counted", "", false)+
			realtest.RsyslogForward(port(lf), "traditional", "", false)+
			realtest.RsyslogForward(port(tlsAddr), "octet-counted", "", true))
	const relayed = 400
	var lines []string
	for i := range relayed {
		lines = append(lines, serveLine("/relay/"+strconv.Itoa(i), 200))
	}
	realtest.Logger(t, dir, in, true, lines[:relayed/2])
	realtest.Logger(t, dir, in, false, lines[relayed/2:])

	var m map[string]float64
	realtest.WaitFor(t, "every line", func() bool {
		p.Check(t)
		m = scrape(t, httpAddr)
		return m["ingest_lines_total"] >= nginxRequests+3*relayed
	})
	for series, want := range map[string]float64{
		"ingest_lines_total":  nginxRequests + 3*relayed,
		"ingest_parsed_total": nginxRequests + 3*relayed,
		unixLines:             nginxRequests,
		listenerSeries("ingest_listener_datagrams_total", sock, "unix"):                            nginxRequests,
		listenerSeries("ingest_listener_lines_total", octet, "tcp"):                                relayed,
		listenerSeries("ingest_listener_lines_total", lf, "tcp"):                                   relayed,
		listenerSeries("ingest_listener_lines_total", tlsAddr, "tls"):                              relayed,
		listenerSeries("ingest_listener_parse_errors_total", tlsAddr, "tls"):                       0,
		listenerSeries("ingest_listener_tls_handshake_errors_total", tlsAddr, "tls"):               0,
		`ingest_listener_framing_errors_total{listener="` + lf + `",transport="tcp",reason="cut"}`: 0,
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	// Route admission counts each route's first line under {unadmitted};
	// the relayed route's first lines arrive on three connections at once,
	// read by three goroutines, and concurrent first sightings may each
	// count as a first: up to three of them.
	routes := routeTotals(m)
	if routes["/users/{id}"]+routes["/relay/{id}"]+routes["{unadmitted}"] != nginxRequests+3*relayed ||
		routes["/users/{id}"] < nginxRequests-1 || routes["/relay/{id}"] < 3*relayed-3 {
		t.Errorf("routes %v", routes)
	}
	if log := ng.ErrorLog(); strings.Contains(log, "syslog") {
		t.Errorf("nginx's error log speaks of syslog:\n%s", log)
	}
	checkPromtool(t, httpAddr)
	totals, _ := stopServe(t, cmd, stdout)
	if totals["lines"] != strconv.Itoa(nginxRequests+3*relayed) {
		t.Errorf("final totals %v", totals)
	}
}
