package routemetrics

import (
	"bytes"

	"github.com/flatheap/ingest/internal/admission"
)

// Catch-all routes. Each counts the lines of keys without a series of
// their own, per vhost and method, so that the sum over all series still
// equals the lines observed.
const (
	// Unadmitted is the route of the series that count the lines of routes
	// not yet seen often enough to get a series of their own (see
	// Config.AdmitAfter), per vhost, method and status class: their status
	// label is the class, "1xx" to "5xx", or "other".
	Unadmitted = "{unadmitted}"
	// Unmatched is the route of the series that count the lines whose
	// route matched no pattern and whose status is one of
	// Config.CollapseUnmatched, per vhost, method and status.
	Unmatched = "{unmatched}"
)

// How victims are sampled when the budget is full: up to sampleGroups
// regular groups, at most samplePerShard from each shard, from at most
// sampleShards shards, beginning with the candidate's. A large store
// fills the sample from two shards; a small one, whose groups are spread
// thin over its 64 shards, may look at all of them (an empty shard costs
// a lock and an unlock).
const (
	sampleGroups   = 16
	samplePerShard = 8
	sampleShards   = 64
)

// statusSet is a set of statuses 0..599.
type statusSet [10]uint64

func (s *statusSet) add(st uint16)      { s[st>>6] |= 1 << (st & 63) }
func (s *statusSet) has(st uint16) bool { return st < 600 && s[st>>6]&(1<<(st&63)) != 0 }

// list returns the statuses of s, in order.
func (s *statusSet) list() []int {
	var l []int
	for st := uint16(0); st < 600; st++ {
		if s.has(st) {
			l = append(l, int(st))
		}
	}
	return l
}

// classStatus returns the status an {unadmitted} series is kept under:
// the class, 1 to 5, or 0.
func classStatus(status uint16) uint16 { return uint16(statusClass(status)) }

// observeNew counts a line whose key has no entry: the group g (nil when
// the route is new to the store) of hash h (x mixed by the admission
// filter) in shard sh lacks it. In order:
// a collapsed status of an unmatched route goes to {unmatched}; a new
// route not seen often enough goes to {unadmitted}; else the key gets an
// entry if the budget has room, or takes the place of a colder group when
// the candidate wins against it; else the line goes to {overflow}.
//
//go:noinline
func (s *Store) observeNew(key []byte, h, x uint64, sh *shard, g *group, status uint16, v *values, pattern bool) {
	if g != nil {
		pattern = g.pattern
	}
	if !pattern && s.collapse.has(status) {
		s.collapsed.Add(1)
		s.countCatchAll(key, Unmatched, status, v)
		return
	}
	est := 0
	if g == nil {
		est = s.adm.RecordMixed(x)
		if !pattern && est < s.admitAfter {
			s.unadmitted.Add(1)
			s.countCatchAll(key, Unadmitted, classStatus(status), v)
			return
		}
	}
	if s.insert(key, h, sh, status, kindRegular, est, pattern, v) != nil {
		return
	}
	if s.evict {
		if g != nil {
			// A new status of a held route competes with the route's
			// own count.
			sh.mu.Lock()
			est = s.freq(g)
			sh.mu.Unlock()
		}
		if s.makeRoom(h, est, g) && s.insert(key, h, sh, status, kindRegular, est, pattern, v) != nil {
			return
		}
	}
	s.overflows.Add(1)
	s.countCatchAll(key, Overflow, status, v)
}

// countCatchAll counts v in the catch-all series (vhost of key, route rt,
// method of key, status), or in the global one when the catch-all budget
// is full. The catch-all group a vhost and method used last is kept in a
// small cache, which spares a flood of new paths a second hash and
// lookup per line.
func (s *Store) countCatchAll(key []byte, rt string, status uint16, v *values) {
	vhost, method := key[:bytes.IndexByte(key, keySep)], key[len(key)-1]
	slot := &s.catchCache[catchSlot(vhost, method, rt)]
	if g := slot.Load(); g != nil && g.method == method && g.route == rt && g.vhost == string(vhost) {
		// Expire clears the cache, but a line that looked the group up
		// before may store it again: a retired entry is not used (and
		// one retired from now on moves what add puts in it).
		if e := g.find(status); e != nil && e.fold.Load() == nil {
			s.add(e, v)
			return
		}
	}
	var kb [keyCap]byte
	ck := catchAllKey(kb[:0], vhost, method, rt)
	h, sh := s.shardOf(ck)
	if g := sh.t.Load().get(h, ck); g != nil {
		if e := g.find(status); e != nil {
			slot.Store(g)
			s.add(e, v)
			return
		}
	}
	if e := s.insert(ck, h, sh, status, kindCatchAll, 0, false, v); e != nil {
		return
	}
	s.countGlobal(v)
}

// catchCacheSize is the number of slots of the catch-all cache.
const catchCacheSize = 64

// catchSlot returns the cache slot of a vhost, method and catch-all route:
// a cheap mix of their lengths and edge bytes.
func catchSlot(vhost []byte, method byte, rt string) int {
	h := uint(len(vhost))*0x9e37 + uint(method)*0x45d9 + uint(len(rt))*0x1b87
	if len(vhost) > 0 {
		h += uint(vhost[0])*0x2c1b + uint(vhost[len(vhost)-1])*0x7f4a
	}
	return int(h>>4^h) & (catchCacheSize - 1)
}

// countGlobal counts v in the global catch-all series, whose slot is
// always free.
func (s *Store) countGlobal(v *values) {
	var kb [keyCap]byte
	gk := globalKey(kb[:0])
	if s.update(gk, 0, v) {
		return
	}
	h, sh := s.shardOf(gk)
	s.insert(gk, h, sh, 0, kindGlobal, 0, false, v)
}

// catchAllKey appends to dst the key (vhost, rt, method).
func catchAllKey(dst, vhost []byte, method byte, rt string) []byte {
	dst = append(dst, vhost...)
	dst = append(dst, keySep)
	dst = append(dst, rt...)
	return append(dst, keySep, method)
}

// globalKey appends the global catch-all's key to dst.
func globalKey(dst []byte) []byte {
	dst = append(dst, Overflow...)
	dst = append(dst, keySep)
	dst = append(dst, Overflow...)
	return append(dst, keySep, methodOther)
}

// overflowEntry returns the entry an evicted key (vhost, method, status)
// folds into: its {overflow} series, created if need be, or the global
// catch-all.
func (s *Store) overflowEntry(g *group, status uint16) *entry {
	var kb [keyCap]byte
	k := append(kb[:0], g.vhost...)
	k = append(k, keySep)
	k = append(k, Overflow...)
	k = append(k, keySep, g.method)
	h, sh := s.shardOf(k)
	if e := s.insert(k, h, sh, status, kindCatchAll, 0, false, nil); e != nil {
		return e
	}
	gk := globalKey(kb[:0])
	h, sh = s.shardOf(gk)
	return s.insert(gk, h, sh, 0, kindGlobal, 0, false, nil)
}

// total returns the lines counted in g's entries.
func (g *group) total() uint64 {
	var n uint64
	for _, e := range *g.entries.Load() {
		n += e.requests.Load()
	}
	return n
}

// lastSeen returns the latest stamp of g's entries.
func (g *group) lastSeen() int64 {
	var t int64
	for _, e := range *g.entries.Load() {
		t = max(t, e.seen.Load())
	}
	return t
}

// freq returns a regular group's frequency on the admission scale: the
// estimate it was admitted with plus its lines since, aged with the
// filter's halvings. The group's shard's mutex is held.
func (s *Store) freq(g *group) int { return g.freq.Value(s.adm, g.total()) }

// makeRoom samples regular groups, from the shard of hash h on, for the
// coldest one other than self, and evicts it if a candidate of estimate
// est beats it (admission.Filter.Admit). It reports whether it evicted.
func (s *Store) makeRoom(h uint64, est int, self *group) bool {
	victim, vsh, vf := s.sampleVictim(h, self)
	if victim == nil || !s.adm.Admit(est, vf) {
		return false
	}
	return s.evictGroup(vsh, victim, vf)
}

// sampleVictim returns the coldest regular group of a sample, its shard
// and its frequency; among equals, the one that saw a line least lately.
func (s *Store) sampleVictim(h uint64, self *group) (*group, *shard, int) {
	var best *group
	var bestSh *shard
	bestF, bestSeen := admission.MaxEstimate+1, int64(0)
	mask := len(s.shards) - 1
	start := int(h >> (64 - s.shardBits))
	sampled := 0
	for i := 0; i < sampleShards && sampled < sampleGroups && i <= mask; i++ {
		sh := &s.shards[(start+i)&mask]
		sh.mu.Lock()
		n := 0
		// A map's iteration starts at a random place: a random sample.
		for _, g := range sh.t.Load().m {
			if g.kind != kindRegular || g == self {
				continue
			}
			f, seen := s.freq(g), g.lastSeen()
			if f < bestF || f == bestF && seen < bestSeen {
				best, bestSh, bestF, bestSeen = g, sh, f, seen
			}
			n++
			sampled++
			if n == samplePerShard || sampled == sampleGroups {
				break
			}
		}
		sh.mu.Unlock()
		if bestF == 0 {
			break
		}
	}
	return best, bestSh, bestF
}

// evictGroup removes the regular group g from shard sh, if it is still
// there and no more frequent than f, and folds its counters into the
// {overflow} series of its vhost and method. It reports whether it
// removed it.
func (s *Store) evictGroup(sh *shard, g *group, f int) bool {
	sh.mu.Lock()
	t := sh.t.Load()
	if !t.holds(g) || s.freq(g) > f {
		sh.mu.Unlock()
		return false
	}
	es := *g.entries.Load()
	var hs [numClasses]*classHist
	size := groupBytes + int64(len(g.key)) + int64(len(es)-1)*entryBytes
	for c := range g.hists {
		if hs[c] = g.hists[c].Load(); hs[c] != nil {
			hs[c].fold.Store(&retiringHist)
			size += histBytes(len(s.bounds))
		}
	}
	for _, e := range es {
		e.fold.Store(&retiring)
	}
	sh.t.Store(t.without([]*group{g}))
	s.release(kindRegular, len(es))
	s.bytes.Add(-size)
	sh.mu.Unlock()

	// The destinations may be in other shards: no lock is held now.
	var dest [numClasses]*classHist
	for _, e := range es {
		to := s.overflowEntry(g, e.status)
		s.finish(e, to)
		if c := statusClass(e.status); dest[c] == nil {
			dest[c] = to.ch
		}
	}
	for c, h := range hs {
		if h == nil {
			continue
		}
		to := dest[c]
		if to == nil {
			// No entry of its class was left: any destination keeps
			// the totals.
			to = s.overflowEntry(g, es[0].status).ch
		}
		s.finishHist(h, to)
	}
	s.evicted.Add(uint64(len(es)))
	s.evictedRing[s.evictedPos.Add(1)%evictedRingSize].Store(g.hash)
	return true
}

// holds reports whether g is one of t's groups.
func (t *table) holds(g *group) bool {
	return t.m[g.hash] == g || t.coll[g.key] == g
}
