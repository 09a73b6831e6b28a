package routemetrics

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/flatheap/ingest/internal/admission"
	"github.com/flatheap/ingest/route"
)

// The store is split into shards by the hash of the key: at least
// 1<<minShardBits of them, and more for a large budget, so that a shard
// holds at most about shardKeys keys. A line reads its shard's table with
// no lock; a new key or Expire copies the table under the shard's mutex,
// at a cost that shardKeys bounds.
const (
	minShardBits = 6
	maxShardBits = 16
	shardKeys    = 128
)

// keyCap bounds a key: a vhost and a route of their maximum lengths, two
// separators and the method.
const keyCap = MaxVHostLen + MaxRouteLen + 3

// Store is a bounded store of per-route metrics. Create one with New; the
// zero value is not usable. Every method is safe for concurrent use.
type Store struct {
	seed      maphash.Seed
	bounds    []int64  // bucket upper bounds, ns
	le        []string // bucket bounds as "le" label values, +Inf last
	idle      int64    // ns
	maxSeries int64
	// regularCap is how many keys with their own route may exist, and
	// catchAllCap how many catch-all series ({overflow}, {unadmitted},
	// {unmatched}); the last slot of the budget is the global catch-all's.
	regularCap   int64
	catchAllCap  int64
	vhost        []byte
	vhostFromTag bool
	routes       *route.Templater
	shards       []shard
	shardBits    uint
	adm          *admission.Filter
	admitAfter   int
	evict        bool
	collapse     statusSet // statuses whose lines of unmatched routes are collapsed
	admBytes     int64     // the admission filter's tables

	// The fields above are set by New; every line reads them and clock.
	// clock is written rarely, but the counters below are written by
	// lines that overflow and by inserts: the padding keeps them off
	// clock's cache line.
	clock atomic.Int64 // ns since the epoch, advanced by Expire and scrapes
	_     cpu.CacheLinePad

	series     atomic.Int64 // keys held: regular + catchAlls + the global one
	regular    atomic.Int64 // keys with their own route
	catchAlls  atomic.Int64 // catch-all keys but the global one
	bytes      atomic.Int64 // estimated bytes the keys hold
	overflows  atomic.Uint64
	unadmitted atomic.Uint64
	collapsed  atomic.Uint64
	expired    atomic.Uint64
	evicted    atomic.Uint64
	valueErrs  [numFields]atomic.Uint64
	// evictedRing holds the hashes of the last groups evicted, for
	// Explain.
	evictedRing [evictedRingSize]atomic.Uint64
	evictedPos  atomic.Uint64
	// catchCache holds catch-all groups lately counted in, by vhost,
	// method and route (see countCatchAll).
	catchCache [catchCacheSize]atomic.Pointer[group]
	// sink receives the counts of expired keys, which leave the
	// exposition; it is never written out, and Stats reads it.
	sink     entry
	sinkHist [numClasses]classHist

	scrapeMu sync.Mutex
	buf      []byte   // guarded by scrapeMu
	snap     []*group // guarded by scrapeMu
}

// evictedRingSize is how many evictions Explain remembers.
const evictedRingSize = 256

type shard struct {
	mu sync.Mutex // held by the writers of t: insert, Expire, eviction
	// t is replaced, never modified, under mu; lines read it without a
	// lock.
	t atomic.Pointer[table]
	_ cpu.CacheLinePad // keep shards on separate cache lines
}

// A table is a shard's groups. It is immutable once published.
type table struct {
	m    map[uint64]*group // by the hash of the key
	coll map[string]*group // by key: groups whose hash another group took
}

// get returns the group of key (hash h), or nil.
func (t *table) get(h uint64, key []byte) *group {
	if g := t.m[h]; g != nil && g.key == string(key) {
		return g
	}
	if len(t.coll) > 0 {
		return t.coll[string(key)]
	}
	return nil
}

// each calls fn for every group of t.
func (t *table) each(fn func(*group)) {
	for _, g := range t.m {
		fn(g)
	}
	for _, g := range t.coll {
		fn(g)
	}
}

// with returns a copy of t with g added.
func (t *table) with(g *group) *table {
	n := &table{m: make(map[uint64]*group, len(t.m)+1), coll: t.coll}
	for h, x := range t.m {
		n.m[h] = x
	}
	if n.m[g.hash] == nil {
		n.m[g.hash] = g
		return n
	}
	n.coll = make(map[string]*group, len(t.coll)+1)
	for k, x := range t.coll {
		n.coll[k] = x
	}
	n.coll[g.key] = g
	return n
}

// A group is the keys of one (vhost, route, method): one entry per status
// seen, and the histograms of each status class.
type group struct {
	key    string // vhost keySep route keySep method
	hash   uint64 // maphash of key
	vhost  string // views of key
	route  string
	method uint8
	kind   uint8 // kindRegular, kindCatchAll or kindGlobal
	// pattern: the route came from one of the Templater's patterns (or
	// Observation.Pattern).
	pattern bool
	// freq is a regular group's frequency on the admission filter's
	// scale, guarded by the shard's mutex.
	freq admission.Count
	// entries is replaced, never modified in place, under the shard's
	// mutex.
	entries atomic.Pointer[[]*entry]
	hists   [numClasses]atomic.Pointer[classHist]

	// The first entry, and the slice of one that holds it, are part of
	// the group's own allocation: a group of one status is read from
	// adjacent memory.
	firstSlice []*entry
	firstArr   [1]*entry
	first      entry
}

// Kinds of group.
const (
	kindRegular  = iota // a route of its own: admitted, evictable
	kindCatchAll        // {overflow}, {unadmitted} or {unmatched} of a vhost
	kindGlobal          // the one series for lines no other series takes
)

// An entry is one key's counters.
type entry struct {
	status    uint16
	hasReq    atomic.Bool
	requests  atomic.Uint64
	respBytes atomic.Uint64
	reqBytes  atomic.Uint64
	seen      atomic.Int64    // the store's clock at the last line
	hist      []atomic.Uint64 // its class's classHist.v
	ch        *classHist      // that classHist
	// fold is nil while the entry is held. Once it is retired (evicted or
	// expired), it is &retiring until its counts have a destination,
	// then that destination: see retire.go.
	fold atomic.Pointer[entry]
}

// classHist holds the request-time and upstream-time histograms of one
// status class of a group: per histogram, len(bounds)+1 bucket counts
// (not cumulative; +Inf last) and the sum in nanoseconds.
type classHist struct {
	v []atomic.Uint64
	// fold is nil while the histogram is held; once retired, as
	// entry.fold.
	fold atomic.Pointer[classHist]
}

// Histogram indexes.
const (
	histRequest  = 0
	histUpstream = 1
)

// histPart returns histogram which of a classHist's v.
func histPart(v []atomic.Uint64, which, nb int) []atomic.Uint64 {
	n := nb + 2
	return v[which*n : which*n+n : which*n+n]
}

func (s *Store) observeHist(v []atomic.Uint64, which int, d time.Duration) {
	nb := len(s.bounds)
	p := histPart(v, which, nb)
	ns := int64(d)
	i := 0
	for i < nb && ns > s.bounds[i] {
		i++
	}
	p[i].Add(1)
	satAdd(&p[nb+1], uint64(ns))
}

// Estimated sizes, in bytes, of what the store holds; see Stats.
var (
	// groupBytes is a group with its first entry, its map entry (a hash
	// and a pointer, with the map's own overhead), and its pointer in a
	// scrape's snapshot.
	groupBytes = int64(unsafe.Sizeof(group{})) + 64 + 8
	// entryBytes is another entry, rounded up to its size class, and its
	// pointer in the entries slice (which is copied when it grows).
	entryBytes = int64(unsafe.Sizeof(entry{})) + 16 + 16
)

// histBytes is the size of a classHist with nb buckets.
func histBytes(nb int) int64 { return int64(unsafe.Sizeof(classHist{})) + int64(2*(nb+2)*8) + 16 }

// maxKeyBytes is the most one key can cost: its own group with the
// longest labels, an entry and a histogram.
func (s *Store) maxKeyBytes() int64 {
	return groupBytes + keyCap + histBytes(len(s.bounds))
}

// observe adds v to the key (key, status): lock-free when the key exists,
// else through observeNew, which decides on admission, eviction and the
// catch-all series. pattern says whether the route came from a pattern.
func (s *Store) observe(key []byte, status uint16, v *values, pattern bool) {
	h, sh := s.shardOf(key)
	s.observeHashed(key, h, s.adm.Touch(h), sh, status, v, pattern)
}

// observeHashed is observe for a key whose hash h, shard sh and admission
// hash x (admission.Filter.Touch, which the caller called as early as it
// could) are known.
func (s *Store) observeHashed(key []byte, h, x uint64, sh *shard, status uint16, v *values, pattern bool) {
	g := sh.t.Load().get(h, key)
	if g != nil {
		if e := g.find(status); e != nil {
			s.add(e, v)
			return
		}
	}
	s.observeNew(key, h, x, sh, g, status, v, pattern)
}

// shardOf returns the hash of key and its shard.
func (s *Store) shardOf(key []byte) (uint64, *shard) {
	h := maphash.Bytes(s.seed, key)
	return h, &s.shards[h>>(64-s.shardBits)]
}

// update adds v to an existing key and reports whether it found it. It
// takes no lock. A line that meets its key while it is retired (evicted or
// expired) moves what it added to where the key's counts went (see
// retire.go).
func (s *Store) update(key []byte, status uint16, v *values) bool {
	h, sh := s.shardOf(key)
	g := sh.t.Load().get(h, key)
	if g == nil {
		return false
	}
	e := g.find(status)
	if e == nil {
		return false
	}
	s.add(e, v)
	return true
}

func (g *group) find(status uint16) *entry {
	for _, e := range *g.entries.Load() {
		if e.status == status {
			return e
		}
	}
	return nil
}

// add counts v in e, and moves it on if e was retired meanwhile.
func (s *Store) add(e *entry, v *values) {
	e.requests.Add(1)
	if v.resp > 0 {
		satAdd(&e.respBytes, uint64(v.resp))
	}
	if v.hasReq {
		satAdd(&e.reqBytes, uint64(v.req))
		if !e.hasReq.Load() {
			e.hasReq.Store(true)
		}
	}
	if v.hasDur {
		s.observeHist(e.hist, histRequest, v.dur)
	}
	if v.hasUp {
		s.observeHist(e.hist, histUpstream, v.up)
	}
	if c := s.clock.Load(); e.seen.Load() != c {
		e.seen.Store(c)
	}
	if e.fold.Load() != nil {
		s.drain(e)
	}
}

// insert returns the entry of the key (key, status), creating it, and its
// group of kind kind if need be, unless the store holds as many keys of
// that kind as their limit allows: then it returns nil. A new regular
// group starts with the admission estimate est. When v is not nil it is
// counted in the entry under the shard's mutex, before a new entry is
// published.
func (s *Store) insert(key []byte, h uint64, sh *shard, status uint16, kind uint8, est int, pattern bool, v *values) *entry {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.t.Load()
	g := t.get(h, key)
	if g != nil {
		if e := g.find(status); e != nil {
			if v != nil {
				s.add(e, v)
			}
			return e
		}
	}
	if g != nil {
		// A key of an existing group is of the group's kind, whatever
		// the caller asked: a route may be spelled like a catch-all.
		kind = g.kind
	}
	if !s.take(kind) {
		return nil
	}
	var size int64
	newGroup := g == nil
	if newGroup {
		k := string(key)
		i := strings.IndexByte(k, keySep)
		j := i + 1 + strings.IndexByte(k[i+1:], keySep)
		g = &group{key: k, hash: h, vhost: k[:i], route: k[i+1 : j], method: k[len(k)-1], kind: kind, pattern: pattern}
		size += groupBytes + int64(len(k))
	} else {
		size += entryBytes
	}
	c := statusClass(status)
	ch := g.hists[c].Load()
	if ch == nil {
		ch = &classHist{v: make([]atomic.Uint64, 2*(len(s.bounds)+2))}
		g.hists[c].Store(ch)
		size += histBytes(len(s.bounds))
	}
	// The entry is complete before a line or a scrape, which take no
	// lock, can see it.
	var e *entry
	if newGroup {
		e = &g.first
		e.status, e.hist, e.ch = status, ch.v, ch
		e.seen.Store(s.clock.Load())
		g.firstArr[0] = e
		g.firstSlice = g.firstArr[:]
		g.entries.Store(&g.firstSlice)
		if kind == kindRegular {
			// The line counted below is among the sightings est covers.
			g.freq.Start(s.adm, est, 1)
		}
		if v != nil {
			s.add(e, v)
		}
		sh.t.Store(t.with(g))
	} else {
		e = &entry{status: status, hist: ch.v, ch: ch}
		e.seen.Store(s.clock.Load())
		if v != nil {
			s.add(e, v)
		}
		old := *g.entries.Load()
		es := make([]*entry, len(old), len(old)+1)
		copy(es, old)
		es = append(es, e)
		g.entries.Store(&es)
	}
	s.bytes.Add(size)
	return e
}

// take takes a slot of the budget for a key of kind kind, and reports
// whether there was one.
func (s *Store) take(kind uint8) bool {
	var n *atomic.Int64
	var limit int64
	switch kind {
	case kindRegular:
		n, limit = &s.regular, s.regularCap
	case kindCatchAll:
		n, limit = &s.catchAlls, s.catchAllCap
	default:
		// The global catch-all: one key, whose slot is always free.
		s.series.Add(1)
		return true
	}
	for {
		c := n.Load()
		if c >= limit {
			return false
		}
		if n.CompareAndSwap(c, c+1) {
			s.series.Add(1)
			return true
		}
	}
}

// release gives back the slots of n keys of kind kind. The count of all
// keys goes down before the count of the kind, as take raises it after:
// so it never counts more keys than the kinds' counts allow, even for a
// moment (a take between the two would otherwise make it one too many).
func (s *Store) release(kind uint8, n int) {
	s.series.Add(int64(-n))
	switch kind {
	case kindRegular:
		s.regular.Add(int64(-n))
	case kindCatchAll:
		s.catchAlls.Add(int64(-n))
	}
}
