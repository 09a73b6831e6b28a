package routemetrics

import (
	"bytes"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	// regularCap is how many keys with their own route may exist; the
	// rest of the budget, up to maxSeries-1, is for overflow series, and
	// the last slot for the catch-all series.
	regularCap   int64
	overflowCap  int64
	vhost        []byte
	vhostFromTag bool
	routes       *route.Templater

	series    atomic.Int64 // keys held
	bytes     atomic.Int64 // estimated bytes held
	clock     atomic.Int64 // ns since the epoch, advanced by Expire and scrapes
	overflows atomic.Uint64
	expired   atomic.Uint64
	valueErrs [numFields]atomic.Uint64

	shards    []shard
	shardBits uint

	scrapeMu sync.Mutex
	buf      []byte   // guarded by scrapeMu
	snap     []*group // guarded by scrapeMu
}

type shard struct {
	mu sync.Mutex // held by the writers of t: insert and Expire
	// t is replaced, never modified, under mu; lines read it without a
	// lock.
	t atomic.Pointer[table]
	_ [48]byte // keep shards on separate cache lines
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

// An entry is one key's counters.
type entry struct {
	status    uint16
	hasReq    atomic.Bool
	requests  atomic.Uint64
	respBytes atomic.Uint64
	reqBytes  atomic.Uint64
	seen      atomic.Int64    // the store's clock at the last line
	hist      []atomic.Uint64 // its class's classHist.v
}

// classHist holds the request-time and upstream-time histograms of one
// status class of a group: per histogram, len(bounds)+1 bucket counts
// (not cumulative; +Inf last) and the sum in nanoseconds.
type classHist struct {
	v []atomic.Uint64
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

// observe adds v to the key (key, status), or to its overflow series when
// the key is new and the budget is full.
func (s *Store) observe(key []byte, status uint16, v *values) {
	if s.update(key, status, v) {
		return
	}
	if s.series.Load() < s.regularCap && s.insert(key, status, v, s.regularCap) {
		return
	}
	s.overflows.Add(1)
	// The same vhost and method, route Overflow.
	var kb [keyCap]byte
	vhost := key[:bytes.IndexByte(key, keySep)]
	ok := append(kb[:0], vhost...)
	ok = append(ok, keySep)
	ok = append(ok, Overflow...)
	ok = append(ok, keySep, key[len(key)-1])
	if s.update(ok, status, v) || s.insert(ok, status, v, s.overflowCap) {
		return
	}
	// The catch-all: the last slot of the budget is kept for it.
	ok = append(kb[:0], Overflow...)
	ok = append(ok, keySep)
	ok = append(ok, Overflow...)
	ok = append(ok, keySep, methodOther)
	if s.update(ok, 0, v) || s.insert(ok, 0, v, s.maxSeries) {
		return
	}
	// Unreachable while the invariant holds: series other than the
	// catch-all never take the last slot.
	panic("routemetrics: no room for the catch-all series")
}

// shardOf returns the hash of key and its shard.
func (s *Store) shardOf(key []byte) (uint64, *shard) {
	h := maphash.Bytes(s.seed, key)
	return h, &s.shards[h>>(64-s.shardBits)]
}

// update adds v to an existing key and reports whether it found it. It
// takes no lock. A line that meets its key while Expire removes it is
// counted in the removed key, and goes with it, as a line counted just
// before the removal would.
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

// add counts v in e.
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
}

// insert creates the key (key, status) and adds v to it, unless the store
// already holds limit keys; it reports whether v was counted.
func (s *Store) insert(key []byte, status uint16, v *values, limit int64) bool {
	hk, sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.t.Load()
	g := t.get(hk, key)
	if g != nil {
		if e := g.find(status); e != nil {
			s.add(e, v)
			return true
		}
	}
	// Take a slot of the budget.
	for {
		n := s.series.Load()
		if n >= limit {
			return false
		}
		if s.series.CompareAndSwap(n, n+1) {
			break
		}
	}
	var size int64
	if g == nil {
		k := string(key)
		i := strings.IndexByte(k, keySep)
		j := i + 1 + strings.IndexByte(k[i+1:], keySep)
		g = &group{key: k, hash: hk, vhost: k[:i], route: k[i+1 : j], method: k[len(k)-1]}
		size += groupBytes + int64(len(k))
	} else {
		size += entryBytes
	}
	c := statusClass(status)
	h := g.hists[c].Load()
	if h == nil {
		h = &classHist{v: make([]atomic.Uint64, 2*(len(s.bounds)+2))}
		g.hists[c].Store(h)
		size += histBytes(len(s.bounds))
	}
	// The entry is complete before a line or a scrape, which take no
	// lock, can see it.
	var e *entry
	if old := g.entries.Load(); old == nil {
		e = &g.first
		e.status, e.hist = status, h.v
		g.firstArr[0] = e
		g.firstSlice = g.firstArr[:]
		g.entries.Store(&g.firstSlice)
		sh.t.Store(t.with(g))
	} else {
		e = &entry{status: status, hist: h.v}
		es := make([]*entry, len(*old), len(*old)+1)
		copy(es, *old)
		es = append(es, e)
		g.entries.Store(&es)
	}
	s.bytes.Add(size)
	s.add(e, v)
	return true
}
