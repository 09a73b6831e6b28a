package loadgen

import (
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ScannerMix is the traffic of a scanner's flood among an application's
// real routes, the load that route admission exists for (Config.Scanner):
//
//   - Routes real routes send from the start, at Zipf-like rates: route k
//     (k = 1..Routes) sends Routes/k lines a second, so the rarest sends
//     one a second. Their paths are /api/v2/<name>/<n>, whose route is
//     /api/v2/<name>/{id} (RouteTemplates lists them).
//   - After Before, the flood: JunkPaths distinct junk paths,
//     /wp-admin/<ten letters>.php, at JunkRate new paths a second; one in
//     RepeatOneIn of them is sent a second time, a tenth of RepeatWithin
//     to RepeatWithin (0.5 to 5 seconds) after its first.
//   - A third of the way into the flood, a new real route begins, at one
//     line a second: the last of RouteTemplates.
//   - The real routes go on for After past the flood's last new path.
//
// Every line is GET, for the virtual host ScannerVHost, in
// RoutesLogFormat: junk lines have status 404, real lines 200. The times
// of the lines are the mix's own: Send paces the lines by them, not by
// Config.Rate. The lines depend only on the mix and Config.Seed (but for
// their times), and a junk route gives back its index (ScannerJunkIndex),
// so that a receiver can tell a path seen once from one seen twice.
type ScannerMix struct {
	// Routes is the number of real routes from the start; default 20, at
	// most MaxScannerRoutes.
	Routes int
	// JunkPaths is the number of distinct junk paths; default 1,000,000,
	// at most MaxScannerJunk.
	JunkPaths int64
	// JunkRate is the number of new junk paths a second; default 20,000.
	JunkRate int
	// RepeatOneIn makes one junk path in RepeatOneIn come twice; default
	// 10; 1 repeats every one.
	RepeatOneIn int
	// RepeatWithin bounds the time from a junk path's first line to its
	// second, which comes after at least a tenth of it; default 5 s, at
	// most a minute.
	RepeatWithin time.Duration
	// Before and After are the real traffic before the flood and after it;
	// default 5 s each, at most an hour.
	Before, After time.Duration
}

// Bounds and fixed values of ScannerMix.
const (
	// MaxScannerRoutes bounds ScannerMix.Routes.
	MaxScannerRoutes = len(scannerNames) - 1
	// MaxScannerJunk bounds ScannerMix.JunkPaths: ten letters hold 26^10
	// paths, far more than a run sends.
	MaxScannerJunk = 1 << 40
	// ScannerVHost is the virtual host of every line of the mix.
	ScannerVHost = "api.example.com"
)

// scannerNames are the resources of the real routes; the last is the new
// route's.
var scannerNames = [...]string{"cart", "products", "search", "users", "orders", "login", "session", "prices",
	"stock", "reviews", "images", "shipping", "coupons", "wishlist", "addresses", "payments", "invoices",
	"returns", "refunds", "newsletter", "sellers", "brands", "offers", "tickets", "messages", "settings",
	"devices", "tokens", "exports", "imports", "reports", "checkout"}

// normalize returns m with its defaults, or an error naming the first
// field out of range.
func (m ScannerMix) normalize() (ScannerMix, error) {
	if m.Routes == 0 {
		m.Routes = 20
	}
	if m.JunkPaths == 0 {
		m.JunkPaths = 1_000_000
	}
	if m.JunkRate == 0 {
		m.JunkRate = 20_000
	}
	if m.RepeatOneIn == 0 {
		m.RepeatOneIn = 10
	}
	if m.RepeatWithin == 0 {
		m.RepeatWithin = 5 * time.Second
	}
	if m.Before == 0 {
		m.Before = 5 * time.Second
	}
	if m.After == 0 {
		m.After = 5 * time.Second
	}
	switch {
	case m.Routes < 1 || m.Routes > MaxScannerRoutes:
		return m, fmt.Errorf("scanner routes %d out of range: want 1 to %d", m.Routes, MaxScannerRoutes)
	case m.JunkPaths < 1 || m.JunkPaths > MaxScannerJunk:
		return m, fmt.Errorf("scanner junk paths %d out of range: want 1 to %d", m.JunkPaths, int64(MaxScannerJunk))
	case m.JunkRate < 1 || m.JunkRate > 10_000_000:
		return m, fmt.Errorf("scanner junk rate %d out of range: want 1 to 10000000", m.JunkRate)
	case m.RepeatOneIn < 1:
		return m, fmt.Errorf("scanner repeat one in %d out of range: want 1 or more", m.RepeatOneIn)
	case m.RepeatWithin < 10*time.Millisecond || m.RepeatWithin > time.Minute:
		return m, fmt.Errorf("scanner repeat within %v out of range: want 10ms to 1m", m.RepeatWithin)
	case m.Before < 0 || m.Before > time.Hour || m.After < 0 || m.After > time.Hour:
		return m, fmt.Errorf("scanner before %v and after %v: want 0 to 1h", m.Before, m.After)
	case m.JunkPaths/int64(m.JunkRate) >= int64(MaxRunTime/time.Second) || m.flood()+m.Before+m.After > MaxRunTime:
		return m, fmt.Errorf("scanner mix of %d junk paths at %d a second: want at most %v", m.JunkPaths, m.JunkRate, MaxRunTime)
	}
	return m, nil
}

// flood returns the time from the first new junk path to the last.
func (m ScannerMix) flood() time.Duration {
	return time.Duration(m.JunkPaths * int64(time.Second) / int64(m.JunkRate))
}

// Length returns how long the mix lasts, on its own clock: the flood and
// the real traffic before and after it (repeats due later than that are
// still sent, with no real line after them). Its defaults must be set:
// Config.Normalize sets them.
func (m ScannerMix) Length() time.Duration { return m.Before + m.flood() + m.After }

// NewRouteAt returns when the new real route sends its first line, on the
// mix's clock: a third of the way into the flood.
func (m ScannerMix) NewRouteAt() time.Duration { return m.Before + m.flood()/3 }

// RouteTemplates returns the routes of the real routes, the new one last.
func (m ScannerMix) RouteTemplates() []string {
	out := make([]string, 0, m.Routes+1)
	for _, n := range scannerNames[:m.Routes] {
		out = append(out, "/api/v2/"+n+"/{id}")
	}
	return append(out, "/api/v2/"+scannerNames[len(scannerNames)-1]+"/{id}")
}

// repeatDelay returns the time from junk path j's first line to its
// second: a tenth of RepeatWithin, and up to nine tenths more, in steps of
// a thousandth, spread by j.
func (m ScannerMix) repeatDelay(j int64) int64 {
	step := int64(m.RepeatWithin) / 1000
	return 100*step + (j*7919)%901*step
}

// Repeated reports whether junk path j is sent twice.
func (m ScannerMix) Repeated(j int64) bool { return j%int64(m.RepeatOneIn) == 0 }

// ScannerResult is what a scanner mix sent (Result.Scanner).
type ScannerResult struct {
	// Routes are the real routes, in the order of RouteTemplates: the new
	// one last.
	Routes []ScannerRoute
	// JunkPaths counts the distinct junk paths sent, JunkLines their
	// lines, repeats included.
	JunkPaths, JunkLines int64
}

// ScannerRoute is what a real route of a scanner mix sent.
type ScannerRoute struct {
	Route string
	Lines int64
	// First and Second are the times given to LineGen.AppendLine for its
	// first and second lines: when Send made their batch, just before it
	// sent it. Zero when there was no such line.
	First, Second time.Time
}

// Junk paths: /wp-admin/, ten letters, .php. The letters spell, in base
// 26, the index scrambled by a bijection of [0, 26^10) that the seed
// shifts, so the paths look random and ScannerJunkIndex gives the index
// back.
const (
	junkPrefix  = "/wp-admin/"
	junkSuffix  = ".php"
	junkLetters = 10
	junkSpace   = 141167095653376 // 26^10
	junkMul     = 60174356552725  // coprime with 26
)

// junkMulInv is junkMul's inverse modulo junkSpace.
var junkMulInv = new(big.Int).ModInverse(big.NewInt(junkMul), big.NewInt(junkSpace)).Uint64()

// mulMod returns a*b mod junkSpace, for a, b < junkSpace.
func mulMod(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi, lo, junkSpace)
	return r
}

// junkShift returns the seed's shift of the junk paths.
func junkShift(seed int64) uint64 { return splitmix(uint64(seed)^0x5ca7) % junkSpace }

// appendJunkPath appends junk path j of the seed's mix.
func appendJunkPath(dst []byte, j int64, shift uint64) []byte {
	v := (mulMod(uint64(j), junkMul) + shift) % junkSpace
	dst = append(dst, junkPrefix...)
	for range junkLetters {
		dst = append(dst, byte('a'+v%26))
		v /= 26
	}
	return append(dst, junkSuffix...)
}

// ScannerJunkIndex returns the index of the junk path, or route (junk
// paths are routes of their own), of a scanner mix made with seed, and
// whether it is one.
func ScannerJunkIndex(route string, seed int64) (int64, bool) {
	s, ok := strings.CutPrefix(route, junkPrefix)
	if !ok || len(s) != junkLetters+len(junkSuffix) || !strings.HasSuffix(s, junkSuffix) {
		return 0, false
	}
	var v uint64
	for k := junkLetters - 1; k >= 0; k-- {
		c := s[k]
		if c < 'a' || c > 'z' {
			return 0, false
		}
		v = v*26 + uint64(c-'a')
	}
	v = (v + junkSpace - junkShift(seed)) % junkSpace
	return int64(mulMod(v, junkMulInv)), true
}

// Kinds of scanner event, in the order of events due at the same time.
const (
	scanJunk = iota
	scanRepeat
	scanReal
)

// scanGen makes the lines of a ScannerMix in the order of their times. It
// allocates nothing per line: the pending repeats are a heap in a slice of
// the most there can be.
type scanGen struct {
	mix   ScannerMix
	shift uint64
	end   int64 // ns, the mix's length
	// The next new junk path.
	junkNext int64
	floodAt  int64 // ns, the first junk path
	// repeats is a min-heap of pending repeats by due time.
	repeats []scanRepeatAt
	// Real routes: the time of the next line of each, and its interval.
	next, interval []int64
	res            ScannerResult
	path           []byte
}

type scanRepeatAt struct{ at, j int64 }

func newScanGen(m ScannerMix, seed int64) *scanGen {
	g := &scanGen{mix: m, shift: junkShift(seed), end: int64(m.Length()), floodAt: int64(m.Before)}
	// Repeats pending at once: those of the last RepeatWithin of new
	// paths.
	pending := (int64(m.RepeatWithin)*int64(m.JunkRate)/int64(time.Second))/int64(m.RepeatOneIn) + 2
	g.repeats = make([]scanRepeatAt, 0, min(pending, m.JunkPaths/int64(m.RepeatOneIn)+1))
	n := m.Routes
	g.next, g.interval = make([]int64, n+1), make([]int64, n+1)
	for k := range n {
		// Route k+1 sends n/(k+1) lines a second, each route a
		// millisecond out of step with the one before.
		g.interval[k] = int64(time.Second) * int64(k+1) / int64(n)
		g.next[k] = int64(k) * int64(time.Millisecond)
	}
	g.interval[n], g.next[n] = int64(time.Second), int64(m.NewRouteAt())
	for _, r := range m.RouteTemplates() {
		g.res.Routes = append(g.res.Routes, ScannerRoute{Route: r})
	}
	g.path = make([]byte, 0, 64)
	return g
}

// junkAt returns when new junk path j is due.
func (g *scanGen) junkAt(j int64) int64 {
	return g.floodAt + j*int64(time.Second)/int64(g.mix.JunkRate)
}

// peek returns the time of the next line, its kind and index, and false
// when the mix is done: every junk path and repeat sent, and the real
// routes at the end of the mix. A mix that is done goes on with real
// lines, should it be asked for more.
func (g *scanGen) peek() (at int64, kind, idx int, ok bool) {
	at, kind = int64(1)<<62, -1
	if g.junkNext < g.mix.JunkPaths {
		at, kind = g.junkAt(g.junkNext), scanJunk
	}
	if len(g.repeats) > 0 && g.repeats[0].at < at {
		at, kind = g.repeats[0].at, scanRepeat
	}
	for k, t := range g.next {
		if t < at && t < g.end {
			at, kind, idx = t, scanReal, k
		}
	}
	if kind >= 0 {
		return at, kind, idx, true
	}
	for k, t := range g.next {
		if t < at {
			at, kind, idx = t, scanReal, k
		}
	}
	return at, kind, idx, false
}

// nextAt returns the time of the next line on the mix's clock, and false
// when the mix is done.
func (g *scanGen) nextAt() (time.Duration, bool) {
	at, _, _, ok := g.peek()
	return time.Duration(at), ok
}

// appendPath appends the next line's path and returns its status; the
// mix must not be done.
func (g *scanGen) appendPath(dst []byte, now time.Time) ([]byte, int) {
	at, kind, k, _ := g.peek()
	switch kind {
	case scanJunk:
		j := g.junkNext
		g.junkNext++
		g.res.JunkPaths++
		g.res.JunkLines++
		if g.mix.Repeated(j) {
			g.push(scanRepeatAt{at + g.mix.repeatDelay(j), j})
		}
		return appendJunkPath(dst, j, g.shift), 404
	case scanRepeat:
		j := g.pop().j
		g.res.JunkLines++
		return appendJunkPath(dst, j, g.shift), 404
	}
	r := &g.res.Routes[k]
	name := scannerNames[k]
	if k == g.mix.Routes {
		name = scannerNames[len(scannerNames)-1]
	}
	dst = append(dst, "/api/v2/"...)
	dst = append(dst, name...)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, 1000+r.Lines, 10)
	r.Lines++
	switch r.Lines {
	case 1:
		r.First = now
	case 2:
		r.Second = now
	}
	g.next[k] += g.interval[k]
	return dst, 200
}

// push adds r to the heap of repeats. The heap never outgrows the capacity
// newScanGen gave it: at most the repeats of RepeatWithin of flood are
// pending.
func (g *scanGen) push(r scanRepeatAt) {
	h := append(g.repeats, r)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	g.repeats = h
}

// pop removes and returns the earliest repeat.
func (g *scanGen) pop() scanRepeatAt {
	h := g.repeats
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l].less(h[m]) {
			m = l
		}
		if r := l + 1; r < len(h) && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	g.repeats = h
	return top
}

func (a scanRepeatAt) less(b scanRepeatAt) bool { return a.at < b.at || a.at == b.at && a.j < b.j }

// result returns a copy of what the mix sent so far.
func (g *scanGen) result() *ScannerResult {
	r := g.res
	r.Routes = append([]ScannerRoute(nil), g.res.Routes...)
	return &r
}

// maxScannerPath is the longest path of a scanner mix: a junk path, or a
// real one with the longest name and a number of up to 20 digits.
var maxScannerPath = func() int {
	n := len(junkPrefix) + junkLetters + len(junkSuffix)
	for _, name := range scannerNames {
		n = max(n, len("/api/v2/")+len(name)+1+20)
	}
	return n
}()

// appendScannerLine appends the next line of the scanner mix, from the
// random number r, for the time now: see AppendLine.
func (g *LineGen) appendScannerLine(dst []byte, r uint64, now time.Time) []byte {
	dst = append(dst, genNets[r&3]...)
	dst = strconv.AppendUint(dst, (r>>2)%254+1, 10)
	dst = append(dst, " - - "...)
	dst = append(dst, g.timeLocal...)
	dst = append(dst, ` "GET `...)
	dst, status := g.scan.appendPath(dst, now)
	dst = append(dst, ` HTTP/1.1" `...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, (r>>17)%100000, 10)
	dst = append(dst, ` "-" "`...)
	dst = append(dst, genAgents[(r>>42)&3]...)
	dst = append(dst, '"')
	return append(dst, scannerTail...)
}

// scannerTail is what a scanner line holds after the user agent.
const scannerTail = " " + ScannerVHost + ` 0.004 "0.003"`

// due reports whether g has a line due by limit on its scanner mix's
// clock (any line, with a negative limit), and not past the mix's end:
// always without a mix.
func (g *LineGen) due(limit time.Duration) bool {
	if g.scan == nil {
		return true
	}
	next, ok := g.scan.nextAt()
	return ok && (limit < 0 || next <= limit)
}
