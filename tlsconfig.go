package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// tlsSource gives a Server's connections their TLS configuration: the
// Config.TLSConfig given, or one built from the certificate files, which
// watch re-reads when they change.
type tlsSource struct {
	server *tls.Config // what tls.Server is given

	// With files:
	base                      *tls.Config // Config.TLSConfig or empty, with MinVersion set
	certFile, keyFile, caFile string
	cur                       atomic.Pointer[tls.Config] // what GetConfigForClient returns
	stamps                    [3]os.FileInfo             // of the files loaded, nil for none
	reloads, errs             atomic.Uint64
}

// newTLSSource builds the TLS configuration of c, loading the certificate
// files once. A problem with a file or a setting is a *ConfigError.
func newTLSSource(c *Config) (*tlsSource, error) {
	base := &tls.Config{}
	if c.TLSConfig != nil {
		base = c.TLSConfig.Clone()
	}
	if v := base.MinVersion; v != 0 && v < minTLSVersion {
		return nil, configError("TLSConfig.MinVersion", tls.VersionName(v), "the oldest version accepted is TLS 1.2")
	}
	if base.MinVersion == 0 {
		base.MinVersion = minTLSVersion
	}
	t := &tlsSource{base: base, certFile: c.TLSCertFile, keyFile: c.TLSKeyFile, caFile: c.TLSClientCAFile}
	hasCert := len(base.Certificates) > 0 || base.GetCertificate != nil || base.GetConfigForClient != nil
	files := c.TLSCertFile != "" || c.TLSKeyFile != ""
	switch {
	case files && hasCert:
		return nil, configError("TLSCertFile", c.TLSCertFile, "TLSConfig already has certificates (Certificates, GetCertificate or GetConfigForClient): give one or the other")
	case c.TLSClientCAFile != "" && base.GetConfigForClient != nil:
		return nil, configError("TLSClientCAFile", c.TLSClientCAFile, "TLSConfig.GetConfigForClient decides the client CAs: give one or the other")
	case files && (c.TLSCertFile == "" || c.TLSKeyFile == ""):
		return nil, configError("TLSKeyFile", c.TLSKeyFile, "TLSCertFile and TLSKeyFile go together")
	case !files && !hasCert:
		return nil, configError("TLSCertFile", "", "TLS needs a certificate: TLSCertFile and TLSKeyFile, or TLSConfig with one")
	}
	if !files && c.TLSClientCAFile == "" {
		t.server = base
		return t, nil
	}
	if err := t.load(); err != nil {
		return nil, err
	}
	t.server = &tls.Config{
		MinVersion:         base.MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return t.cur.Load(), nil },
	}
	return t, nil
}

// files returns the paths watched and reloaded, "" for none.
func (t *tlsSource) files() [3]string { return [3]string{t.certFile, t.keyFile, t.caFile} }

// load reads the files and, when they make a valid configuration, puts it
// in use. Its error is a *ConfigError naming the file.
func (t *tlsSource) load() error {
	var stamps [3]os.FileInfo
	for i, name := range t.files() {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return configError(tlsFileFields[i], name, err.Error())
		}
		stamps[i] = fi
	}
	cfg := t.base.Clone()
	if t.certFile != "" {
		cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
		if err != nil {
			return configError("TLSCertFile", t.certFile, "with TLSKeyFile "+t.keyFile+": "+err.Error())
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.caFile != "" {
		pem, err := os.ReadFile(t.caFile)
		if err != nil {
			return configError("TLSClientCAFile", t.caFile, err.Error())
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return configError("TLSClientCAFile", t.caFile, "no PEM certificate in the file")
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	t.cur.Store(cfg)
	t.stamps = stamps
	return nil
}

var tlsFileFields = [3]string{"TLSCertFile", "TLSKeyFile", "TLSClientCAFile"}

// changed reports whether a file differs from the one loaded: another
// file (a renamed or re-linked one, as certificate managers do), another
// size or another modification time. A file that cannot be read counts
// as changed, so that load reports why.
func (t *tlsSource) changed() bool {
	for i, name := range t.files() {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		old := t.stamps[i]
		if err != nil || old == nil || !os.SameFile(old, fi) || !fi.ModTime().Equal(old.ModTime()) || fi.Size() != old.Size() {
			return true
		}
	}
	return false
}

// watch checks the files every interval until stop is closed, and loads
// them when they changed. A change that does not load (a key not yet
// written beside its new certificate, say) keeps the configuration in use,
// is logged and counted, and is tried again at the next check.
func (t *tlsSource) watch(every time.Duration, stop <-chan struct{}, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if !t.changed() {
			continue
		}
		if err := t.load(); err != nil {
			t.errs.Add(1)
			var ce *ConfigError
			if errors.As(err, &ce) {
				log.Warn("ingest: TLS certificate files changed but do not load; the ones loaded before stay in use",
					"file", ce.Value, "err", ce.Reason)
			}
			continue
		}
		t.reloads.Add(1)
		log.Info("ingest: TLS certificate files reloaded", "cert", t.certFile, "client_ca", t.caFile)
	}
}

// watching reports whether there are files to watch.
func (t *tlsSource) watching() bool { return t.cur.Load() != nil }
