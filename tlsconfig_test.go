package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/realtest"
)

// testCA is a certificate authority made for a test.
type testCA struct{ *realtest.CA }

func newTestCA(t testing.TB, name string) *testCA { return &testCA{realtest.NewCA(t, name)} }

// issue returns the PEM certificate and key of a leaf signed by ca, for
// "localhost" and 127.0.0.1, usable by servers and clients.
func (ca *testCA) issue(t testing.TB, serial int64) (certPEM, keyPEM []byte) {
	return ca.Issue(t, serial)
}

func (ca *testCA) pool() *x509.CertPool { return ca.Pool() }

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	return realtest.WriteFile(t, dir, name, b)
}

// tlsFiles issues a server certificate from ca and writes it, its key and
// ca's certificate into dir.
func tlsFiles(t testing.TB, dir string, ca *testCA, serial int64) (certFile, keyFile, caFile string) {
	return ca.Files(t, dir, serial)
}

func dialTLS(t testing.TB, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: waitTimeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestTLS serves TLS from certificate files with mutual authentication,
// counts failed handshakes, and takes on a renewed certificate without a
// restart.
func TestTLS(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	ca := newTestCA(t, "test CA")
	certFile, keyFile, caFile := tlsFiles(t, dir, ca, 100)
	rec := &recorder{}
	ts := startStream(t, Config{
		Addr:              "tls://127.0.0.1:0",
		Handler:           rec,
		TLSCertFile:       certFile,
		TLSKeyFile:        keyFile,
		TLSClientCAFile:   caFile,
		TLSReloadInterval: 20 * time.Millisecond,
	})
	clientCert, clientKey := ca.issue(t, 200)
	pair, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	client := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", Certificates: []tls.Certificate{pair}}

	c, err := dialTLS(t, ts.addr, client)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("version %s, want TLS 1.3", tls.VersionName(v))
	}
	write(t, c, octet(line("/a"))+line("/b")+"\n")
	ts.waitStats(t, "2 lines", func(s Stats) bool { return s.Parsed == 2 })

	// TLS 1.2 is accepted, 1.1 is not.
	c12, err := dialTLS(t, ts.addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost",
		Certificates: []tls.Certificate{pair}, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	write(t, c12, octet(line("/tls12")))
	if _, err := dialTLS(t, ts.addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost",
		Certificates: []tls.Certificate{pair}, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// No client certificate: refused. With TLS 1.3 the client learns it
	// at its first read.
	if nc, err := dialTLS(t, ts.addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}); err == nil {
		nc.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Error("a client without a certificate is served")
		}
	}
	// Plain TCP on the TLS port.
	plain := dialTCP(t, ts.addr)
	write(t, plain, octet(line("/plain")))
	st := ts.waitStats(t, "3 failed handshakes", func(s Stats) bool { return s.TLSHandshakeErrors == 3 })
	if st.Transport != "tls" || st.Parsed != 3 {
		t.Errorf("stats %+v", st)
	}
	if len(ts.logs.find("TLS handshake failed")) == 0 {
		t.Error("failed handshakes are not logged")
	}

	// Renewal: a new certificate, written over the files.
	cert2, key2 := ca.issue(t, 101)
	writeFile(t, dir, "key.pem", key2) // a key without its certificate does not load
	ts.waitStats(t, "the failed reload", func(s Stats) bool { return s.TLSCertErrors >= 1 })
	if c, err := dialTLS(t, ts.addr, client); err != nil || c.ConnectionState().PeerCertificates[0].SerialNumber.Int64() != 100 {
		t.Fatalf("while the files do not match, the old certificate serves: %v", err)
	}
	writeFile(t, dir, "cert.pem", cert2)
	ts.waitStats(t, "the reload", func(s Stats) bool { return s.TLSCertReloads == 1 })
	c2, err := dialTLS(t, ts.addr, client)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != 101 {
		t.Errorf("after renewal the server presents serial %d, want 101", got)
	}
	write(t, c2, octet(line("/after-renewal")))
	write(t, c, octet(line("/old-connection")))
	ts.waitStats(t, "5 lines", func(s Stats) bool { return s.Parsed == 5 })
	if len(ts.logs.find("do not load")) == 0 || len(ts.logs.find("reloaded")) != 1 {
		t.Error("reloads are not logged")
	}
}

// TestTLSConfig serves a *tls.Config given, whose MinVersion is raised to
// TLS 1.2.
func TestTLSConfig(t *testing.T) {
	checkLeaks(t)
	ca := newTestCA(t, "test CA")
	cert, key := ca.issue(t, 7)
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	given := &tls.Config{Certificates: []tls.Certificate{pair}}
	rec := &recorder{}
	ts := startStream(t, Config{Addr: "tls://127.0.0.1:0", Handler: rec, TLSConfig: given})
	if given.MinVersion != 0 {
		t.Error("the TLSConfig given was modified")
	}
	c, err := dialTLS(t, ts.addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, octet(line("/x")))
	ts.waitStats(t, "a line", func(s Stats) bool { return s.Parsed == 1 })
	if _, err := dialTLS(t, ts.addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
}

// TestTLSServeListener serves TLS on a listener given.
func TestTLSServeListener(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	ca := newTestCA(t, "test CA")
	certFile, keyFile, _ := tlsFiles(t, dir, ca, 9)
	rec := &recorder{}
	srv, err := NewServer(Config{Handler: rec, TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeListener(t.Context(), ln) }()
	c, err := dialTLS(t, ln.Addr().String(), &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, octet(line("/x")))
	waitFor(t, "a line", func() bool { return srv.Stats().Parsed == 1 })
	if got := srv.LocalAddr().String(); got != ln.Addr().String() {
		t.Errorf("LocalAddr %s, want %s", got, ln.Addr())
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeListener returned %v", err)
	}
	if st := srv.Stats(); st.Transport != "tls" || st.ConnectionsClosed != 1 {
		t.Errorf("stats %+v", st)
	}
}
