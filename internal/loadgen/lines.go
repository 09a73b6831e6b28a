package loadgen

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/flatheap/ingest"
)

// SyslogHostname returns the host name for syslog headers: os.Hostname
// made safe for one header field, at most MaxHostLength bytes.
func SyslogHostname() string {
	h, _ := os.Hostname()
	if len(h) > MaxHostLength {
		h = h[:MaxHostLength]
	}
	b := []byte(h)
	for i, c := range b {
		if c <= ' ' || c > '~' {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "localhost"
	}
	return string(b)
}

// appendHex appends v as width lowercase hex digits, the low ones.
func appendHex(dst []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		dst = append(dst, digits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// LineGen generates access lines. It is not safe for concurrent use.
//
// A path is "/" followed by a kind letter, a hex number and filler from a
// template made from the seed, PathLength bytes in all. Pool paths are
// "/p" and the pool index in poolWidth digits; unique paths are "/u" and a
// 16-digit counter starting at a value derived from the seed, so the two
// kinds never meet and a unique path is never sent twice in a run.
//
// With Config.Routes, a path comes from one of RouteTemplates, picked at
// random and filled with random IDs, or, for the Unique fraction of lines,
// is a unique "/u" path of PathLength bytes (a junk path), and the line
// ends with the fields RoutesLogFormat adds. The lines depend only on the
// Config and the number of lines made before, but for their times: a
// second LineGen of the same Config and host (Send uses SyslogHostname)
// makes the same lines, so a test can compute any truth it needs about
// what Send sent.
type LineGen struct {
	envelope   ingest.Envelope
	host       string
	template   []byte // PathLength bytes of filler
	paths      int
	poolWidth  int
	poolNext   int
	unique     float64
	uniqueAcc  float64
	uniqueNext uint64
	rng        uint64
	maxLine    int // no line is longer

	// Config.Routes: the second random stream that picks templates and
	// fills them, and the count of lines per template and of junk lines.
	routes      bool
	rng2        uint64
	routeCounts []int64
	junk        int64

	// Config.Scanner: the mix, which makes the paths and orders the
	// lines.
	scan *scanGen

	sec       int64  // the Unix second the cached texts are for
	timeLocal []byte // "[02/Jan/2006:15:04:05 -0700]"
	header    []byte // 3164: the whole header; 5424: up to the seconds
	header2   []byte // 5424: from the UTC offset to the message
}

// The varying fields of a line, picked by bits of one random number.
var (
	genNets     = [4]string{"203.0.113.", "198.51.100.", "192.0.2.", "10.20.30."}
	genMethods  = [8]string{"GET", "GET", "GET", "GET", "GET", "POST", "HEAD", "GET"}
	genStatuses = [16]string{"200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "304", "301", "404", "404", "500", "503"}
	genReferers = [4]string{"-", "-", "https://www.example.com/", "https://search.example.org/?q=ingest"}
	genAgents   = [4]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		"curl/8.5.0",
	}
)

const (
	layoutTimeLocal = "[02/Jan/2006:15:04:05 -0700]"
	layout3164      = "Jan _2 15:04:05"
	layout5424      = "2006-01-02T15:04:05"
	layout5424Zone  = "-07:00"
	// genFixedMax bounds the bytes of a line outside its path and syslog
	// header: address, time, request, status, byte count, referer, agent.
	genFixedMax = len("255.255.255.255") + len(" - - ") + len(layoutTimeLocal) + len(` "POST `) +
		len(` HTTP/1.1" `) + len("200 ") + len("99999") + len(` "`) + 64 + len(`" "`) + 160 + len(`"`)
	uniquePrefixLen = 2 + 16
)

func hexWidth(n int) int {
	w := 1
	for ; n >= 16; n >>= 4 {
		w++
	}
	return w
}

// minPathLength is the shortest path c can generate.
func minPathLength(c Config) int {
	if c.Unique > 0 {
		return uniquePrefixLen
	}
	if c.Routes || c.Scanner != nil {
		return 1 // PathLength is that of junk paths, and there are none
	}
	if c.Paths == 1 {
		return 1 // "/" and filler; see appendPath
	}
	return 2 + hexWidth(c.Paths-1)
}

// NewLineGen returns a generator of the lines c describes, with host as the
// syslog HOSTNAME. Only the fields that shape lines matter: PathLength,
// Paths, Unique, Syslog, Routes and Seed; the others are not checked.
func NewLineGen(c Config, host string) (*LineGen, error) {
	c.Duration, c.Count, c.Rate, c.Targets = 0, 1, 0, nil
	c.LinesPerDatagram, c.Batch, c.Sources = 0, 0, 0
	c, err := c.Normalize()
	if err != nil {
		return nil, err
	}
	if len(host) > MaxHostLength {
		return nil, fmt.Errorf("host name of %d bytes: want at most %d", len(host), MaxHostLength)
	}
	return newLineGen(c, host), nil
}

// MaxLine returns the length no line of g exceeds.
func (g *LineGen) MaxLine() int { return g.maxLine }

// newLineGen returns a generator for c, which must be normalized.
func newLineGen(c Config, host string) *LineGen {
	env, _ := syslogEnvelope(c.Syslog)
	g := &LineGen{
		envelope:  env,
		host:      host,
		paths:     c.Paths,
		poolWidth: hexWidth(c.Paths - 1),
		unique:    c.Unique,
		rng:       splitmix(uint64(c.Seed)),
		sec:       -1 << 63,
		timeLocal: make([]byte, 0, 64),
		header:    make([]byte, 0, 64+len(host)),
		header2:   make([]byte, 0, 64+len(host)),
	}
	g.uniqueNext = splitmix(g.rng^0x5eed) >> 8 // room for 2^56 lines before the counter wraps
	g.template = pathTemplate(c.PathLength, g.rng)
	headerMax := 0
	switch env {
	case ingest.EnvelopeRFC3164:
		headerMax = len("<190>") + len(layout3164) + 1 + len(host) + len(" nginx: ")
	case ingest.EnvelopeRFC5424:
		headerMax = len("<190>1 ") + len(layout5424) + len(".000") + len(layout5424Zone) + 1 + len(host) + len(" nginx - - - ")
	}
	g.maxLine = headerMax + genFixedMax + c.PathLength
	if c.Routes {
		g.routes = true
		g.rng2 = splitmix(g.rng ^ 0x7e57)
		g.routeCounts = make([]int64, len(routeTemplates))
		g.maxLine = headerMax + genFixedMax + max(c.PathLength, maxRoutePath) + routesFixedMax
	}
	if c.Scanner != nil {
		g.scan = newScanGen(*c.Scanner, c.Seed)
		g.maxLine = headerMax + genFixedMax + maxScannerPath + len(scannerTail)
	}
	return g
}

// pathTemplate returns n bytes of path filler: lowercase letters and
// digits in segments of 3 to 10 separated by '/'.
func pathTemplate(n int, seed uint64) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	t := make([]byte, n)
	s := seed
	seg := 0
	for i := range t {
		s = splitmix(s)
		if seg >= 3 && (seg >= 10 || s%4 == 0) {
			t[i] = '/'
			seg = 0
			continue
		}
		t[i] = alphabet[(s>>8)%uint64(len(alphabet))]
		seg++
	}
	return t
}

// splitmix is one step of SplitMix64: a cheap, well-mixed function of x.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// setTime formats the cached time texts for now's second.
func (g *LineGen) setTime(now time.Time, sec int64) {
	g.sec = sec
	g.timeLocal = now.AppendFormat(g.timeLocal[:0], layoutTimeLocal)
	switch g.envelope {
	case ingest.EnvelopeRFC3164:
		h := append(g.header[:0], "<190>"...)
		h = now.AppendFormat(h, layout3164)
		h = append(h, ' ')
		h = append(h, g.host...)
		g.header = append(h, " nginx: "...)
	case ingest.EnvelopeRFC5424:
		h := append(g.header[:0], "<190>1 "...)
		g.header = now.AppendFormat(h, layout5424)
		h = now.AppendFormat(g.header2[:0], layout5424Zone)
		h = append(h, ' ')
		h = append(h, g.host...)
		g.header2 = append(h, " nginx - - - "...)
	}
}

// AppendLine appends one access line, without a line ending, for the time
// now. It does not allocate when dst has room for MaxLine more bytes.
func (g *LineGen) AppendLine(dst []byte, now time.Time) []byte {
	if sec := now.Unix(); sec != g.sec {
		g.setTime(now, sec)
	}
	g.rng = splitmix(g.rng)
	r := g.rng
	switch g.envelope {
	case ingest.EnvelopeRFC3164:
		dst = append(dst, g.header...)
	case ingest.EnvelopeRFC5424:
		dst = append(dst, g.header...)
		ms := now.Nanosecond() / 1e6
		dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		dst = append(dst, g.header2...)
	}
	if g.scan != nil {
		return g.appendScannerLine(dst, r, now)
	}
	dst = append(dst, genNets[r&3]...)
	dst = strconv.AppendUint(dst, (r>>2)%254+1, 10)
	dst = append(dst, " - - "...)
	dst = append(dst, g.timeLocal...)
	dst = append(dst, ` "`...)
	dst = append(dst, genMethods[(r>>10)&7]...)
	dst = append(dst, ' ')
	dst = g.appendPath(dst)
	dst = append(dst, ` HTTP/1.1" `...)
	dst = append(dst, genStatuses[(r>>13)&15]...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, (r>>17)%100000, 10)
	dst = append(dst, ` "`...)
	dst = append(dst, genReferers[(r>>40)&3]...)
	dst = append(dst, `" "`...)
	dst = append(dst, genAgents[(r>>42)&3]...)
	dst = append(dst, '"')
	if g.routes {
		dst = appendRouteTail(dst, splitmix(g.rng2^0x7a11))
	}
	return dst
}

// appendPath appends the next path: a unique one for the Unique fraction
// of lines, spread evenly, and the next pool path otherwise; or, for
// Config.Routes, a path from a random route template.
func (g *LineGen) appendPath(dst []byte) []byte {
	if g.routes {
		g.rng2 = splitmix(g.rng2)
		g.uniqueAcc += g.unique
		if g.uniqueAcc < 1 {
			i := g.rng2 % uint64(len(routeTemplates))
			g.routeCounts[i]++
			return appendRoutePath(dst, routeTemplates[i], g.rng2)
		}
		g.uniqueAcc--
		g.junk++
		start := len(dst)
		dst = append(dst, '/', 'u')
		dst = appendHex(dst, g.uniqueNext, 16)
		g.uniqueNext++
		return append(dst, g.template[len(dst)-start:]...)
	}
	if g.paths == 1 && g.unique == 0 {
		// One path: no index needed, so any length down to "/" works.
		dst = append(dst, '/')
		return append(dst, g.template[1:]...)
	}
	start := len(dst)
	g.uniqueAcc += g.unique
	if g.uniqueAcc >= 1 {
		g.uniqueAcc--
		dst = append(dst, '/', 'u')
		dst = appendHex(dst, g.uniqueNext, 16)
		g.uniqueNext++
	} else {
		dst = append(dst, '/', 'p')
		dst = appendHex(dst, uint64(g.poolNext), g.poolWidth)
		if g.poolNext++; g.poolNext == g.paths {
			g.poolNext = 0
		}
	}
	return append(dst, g.template[len(dst)-start:]...)
}

// Scanner returns what g's scanner mix (Config.Scanner) made so far, or
// nil without one.
func (g *LineGen) Scanner() *ScannerResult {
	if g.scan == nil {
		return nil
	}
	return g.scan.result()
}

// RouteCount is the number of lines made from one route template.
type RouteCount struct {
	Route string // one of RouteTemplates
	Lines int64
}

// Routes returns how many lines g made so far from each of RouteTemplates,
// in their order, and how many with a junk path instead. Both are zero
// unless g makes Config.Routes lines.
func (g *LineGen) Routes() (routes []RouteCount, junk int64) {
	if !g.routes {
		return nil, 0
	}
	routes = make([]RouteCount, len(RouteTemplates))
	for i, t := range RouteTemplates {
		routes[i] = RouteCount{t, g.routeCounts[i]}
	}
	return routes, g.junk
}
