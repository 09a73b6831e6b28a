package ingest

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestNewServerConfigErrors: every refused Config is a *ConfigError that
// wraps ErrConfig and names the field and the value given.
func TestNewServerConfigErrors(t *testing.T) {
	h := &recorder{}
	f := func(c Config, field, value string) {
		t.Helper()
		_, err := NewServer(c)
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
			t.Fatalf("NewServer(%+v) = %v, want a *ConfigError wrapping ErrConfig", c, err)
		}
		if ce.Field != field || ce.Value != value {
			t.Errorf("error names %s %q, want %s %q", ce.Field, ce.Value, field, value)
		}
		if msg := err.Error(); !strings.Contains(msg, field) || !strings.Contains(msg, value) {
			t.Errorf("%q does not name the field and the value", msg)
		}
	}
	f(Config{}, "Handler", "<nil>")
	f(Config{Handler: h, Readers: -1}, "Readers", "-1")
	f(Config{Handler: h, Readers: maxReaders + 1}, "Readers", "1025")
	f(Config{Handler: h, MaxDatagram: 70000}, "MaxDatagram", "70000")
	f(Config{Handler: h, BatchSize: -3}, "BatchSize", "-3")
	f(Config{Handler: h, QueueLength: -1}, "QueueLength", "-1")
	f(Config{Handler: h, QueueLength: 8, Workers: -2}, "Workers", "-2")
	f(Config{Handler: h, Workers: 2}, "Workers", "2")
	f(Config{Handler: h, BlockWhenQueueFull: true}, "BlockWhenQueueFull", "true")
	f(Config{Handler: h, AllowedSources: []netip.Prefix{{}}}, "AllowedSources", "invalid Prefix")

	if _, err := NewServer(Config{Handler: h, QueueLength: 8, AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); err != nil {
		t.Errorf("a valid Config refused: %v", err)
	}
}
