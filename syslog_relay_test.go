package ingest

import (
	"bufio"
	"bytes"
	"os"
	"testing"
)

// TestParseRelay parses what relays wrote when they forwarded an nginx
// line that util-linux logger had sent them with the tag "nginx", in RFC
// 5424 and in RFC 3164: testdata/relay.log holds rsyslog 8.2302's
// RSYSLOG_ForwardFormat, RSYSLOG_SyslogProtocol23Format and
// RSYSLOG_TraditionalForwardFormat output, then syslog-ng 3.38's network()
// and syslog() output, as they wrote them (TestRealRsyslogTCP and
// TestRealSyslogNG check the same live).
func TestParseRelay(t *testing.T) {
	f, err := os.Open("testdata/relay.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		var p Parser
		var r Request
		if err := p.Parse(&r, sc.Bytes()); err != nil {
			t.Errorf("line %d: %v: %s", n, err, sc.Bytes())
			continue
		}
		if string(r.SyslogTag) != "nginx" || string(r.RemoteAddr) != "192.0.2.1" || !bytes.HasPrefix(r.Path, []byte("/users/")) ||
			len(r.SyslogHost) == 0 || len(r.SyslogTime) == 0 {
			t.Errorf("line %d: tag %q host %q time %q addr %q path %q", n, r.SyslogTag, r.SyslogHost, r.SyslogTime, r.RemoteAddr, r.Path)
		}
	}
	if n != 12 {
		t.Errorf("%d lines, want 12", n)
	}
}

func TestParseRelayHeader(t *testing.T) {
	const rest = ` - - [06/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "x"`
	f := func(line, tag, host, procID, addr string) {
		t.Helper()
		var p Parser
		var r Request
		if err := p.Parse(&r, []byte(line)); err != nil {
			t.Errorf("%s: %v", line, err)
			return
		}
		if string(r.SyslogTag) != tag || string(r.SyslogHost) != host || string(r.SyslogProcID) != procID ||
			string(r.RemoteAddr) != addr || string(r.Path) != "/a" {
			t.Errorf("%s: tag %q host %q procid %q addr %q path %q", line, r.SyslogTag, r.SyslogHost, r.SyslogProcID, r.RemoteAddr, r.Path)
		}
	}
	// The tag without its colon, as rsyslog's traditional forward format
	// writes an RFC 5424 APP-NAME.
	f(`<13>Dec  6 06:31:03 vm nginx 192.0.2.1`+rest, "nginx", "vm", "", "192.0.2.1")
	f(`<13>Dec  6 06:31:03 vm nginx[812] 192.0.2.1`+rest, "nginx", "vm", "812", "192.0.2.1")
	f(`<13>Dec  6 06:31:03 vm nginx_access.v2 192.0.2.1`+rest, "nginx_access.v2", "vm", "", "192.0.2.1")
	f(`<13>Dec  6 06:31:03 vm nginx 2001:db8::1`+rest, "nginx", "vm", "", "2001:db8::1")
	f(`<13>Dec  6 06:31:03 vm nginx 192.0.2.1, 10.0.0.1`+rest, "nginx", "vm", "", "192.0.2.1, 10.0.0.1")
	// With the colon, as before.
	f(`<13>Dec  6 06:31:03 vm nginx: 192.0.2.1`+rest, "nginx", "vm", "", "192.0.2.1")
	// An RFC 3339 stamp in an RFC 3164 header (RSYSLOG_ForwardFormat).
	f(`<13>2026-12-06T06:31:03.123456+00:00 vm nginx 192.0.2.1`+rest, "nginx", "vm", "", "192.0.2.1")
	f(`<13>2026-12-06T06:31:03Z vm nginx: 192.0.2.1`+rest, "nginx", "vm", "", "192.0.2.1")
	// No tag: the host is followed by the address.
	f(`<13>Dec  6 06:31:03 vm 192.0.2.1`+rest, "", "vm", "", "192.0.2.1")
	// Spaces before the message of an RFC 5424 line.
	f(`<13>1 2026-12-06T06:31:03+00:00 vm nginx - - -  192.0.2.1`+rest, "nginx", "vm", "", "192.0.2.1")
	f(`<13>1 2026-12-06T06:31:03+00:00 vm nginx - - -    192.0.2.1`+rest, "nginx", "vm", "", "192.0.2.1")
}

// TestParseRelayHeaderNotTag: a word is taken for a tag without a colon
// only when the access line's address follows it.
func TestParseRelayHeaderNotTag(t *testing.T) {
	f := func(line, reason string) {
		t.Helper()
		var p Parser
		var r Request
		err := p.Parse(&r, []byte(line))
		if ErrorReason(err) != reason {
			t.Errorf("%s: %v, want reason %q", line, err, reason)
		}
		if len(r.SyslogTag) != 0 {
			t.Errorf("%s: tag %q", line, r.SyslogTag)
		}
	}
	rest := ` - - [06/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "x"`
	// A hostname in the address field (Apache with HostnameLookups):
	// the word before it is not taken for a tag.
	f(`<13>Dec  6 06:31:03 vm nginx client.example.com`+rest, "remote_addr")
	// The word is an address itself.
	f(`<13>Dec  6 06:31:03 vm 10.0.0.1 192.0.2.1`+rest, "remote_addr")
	// Not a tag's characters.
	f(`<13>Dec  6 06:31:03 vm ngi"nx 192.0.2.1`+rest, "remote_addr")
	f(`<13>Dec  6 06:31:03 vm 9nginx 192.0.2.1`+rest, "remote_addr")
}

func TestAddrToken(t *testing.T) {
	for tok, want := range map[string]bool{
		"192.0.2.1": true, "192.0.2.1,": true, "2001:db8::1": true, "::1": true, "-": true, "unix:": true,
		"fe80::1": true, "nginx": false, "cafe": false, "": false, ",": false, "1": false, "a.b": true,
		"example.com": false, "10.0.0.1:8080": true,
	} {
		if got := addrToken([]byte(tok)); got != want {
			t.Errorf("addrToken(%q) = %v, want %v", tok, got, want)
		}
	}
}
