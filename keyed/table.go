// Package keyed keeps per-key state that must not grow with the keys: a
// Table of values by key (a path, a host, a client) under fixed entry and
// byte budgets, whatever the number of distinct keys, with totals that stay
// exact.
//
// A daemon that counts per path in a map keyed by string(r.Path) grows
// with every new path, and Go maps never shrink. A Table holds at most
// Config.MaxEntries keys whose entries take at most Config.MaxBytes of
// heap. While it has room, a new key gets an entry of its own at once.
// When it is full, a new key must earn one: it needs to have been seen
// before, lately, and to be seen more often than the coldest of a sample
// of the keys held, which it then replaces (TinyLFU admission, by the
// count-min sketch and doorkeeper the route-metric store uses too). So a
// flood of one-off keys (scanners, random IDs in paths) displaces nothing,
// and a key that turns hot gets in. Whatever has no entry of its own, a
// key refused or a key evicted, is counted in one shared "other" value, so
// the sum over the entries and other is exactly what was counted.
//
// Keys are looked up from []byte views without allocating, and the Table
// keeps its own copy of each key it holds: a key never pins the buffer it
// came from, and the Table's budget counts every byte it keeps alive (see
// Table.Usage). In a handler:
//
//	type Hits struct{ Requests, Bytes int64 }
//
//	paths, err := keyed.New(keyed.Config[Hits]{MaxEntries: 10000,
//		Merge: func(into, from *Hits) { into.Requests += from.Requests; into.Bytes += from.Bytes }})
//	...
//	func(r *ingest.Request) {
//		paths.Update(r.Path, func(h *Hits) { h.Requests++; h.Bytes += r.BodyBytesSent })
//	}
//	...
//	top, other := paths.Top(nil, 20, func(a, b *Hits) int { return cmp.Compare(b.Requests, a.Requests) })
//	monitor.Track("paths", paths.Usage) // a heapwatch.Monitor
package keyed

import (
	"errors"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/flatheap/ingest/internal/admission"
	"github.com/flatheap/ingest/internal/sizeclass"
)

// Defaults and bounds of Config.
const (
	// DefaultMaxEntries is Config.MaxEntries when it is zero.
	DefaultMaxEntries = 10000
	// DefaultMaxBytes is Config.MaxBytes when it is zero.
	DefaultMaxBytes = 8 << 20
	// DefaultMaxKeyLen is Config.MaxKeyLen when it is zero.
	DefaultMaxKeyLen = 4096
	// MaxEntriesLimit bounds Config.MaxEntries.
	MaxEntriesLimit = 1 << 22
	// MaxKeyLenLimit bounds Config.MaxKeyLen: the longest access line.
	MaxKeyLenLimit = 64 << 10
)

// Config sizes a Table. A zero MaxEntries, MaxBytes or MaxKeyLen takes its
// default; Merge is required.
type Config[V any] struct {
	// MaxEntries is the most keys held at once. Default 10,000; at most
	// MaxEntriesLimit.
	MaxEntries int
	// MaxBytes bounds the heap the entries take: each entry costs its key
	// and its value, as the Go allocator sizes them (see Stats.Bytes).
	// Default 8 MiB. The fixed tables (the slots and the admission
	// filter, Stats.FixedBytes) come on top of it.
	MaxBytes int
	// MaxKeyLen is the longest key given an entry; longer keys are
	// counted in other (Stats.TooLong). Default 4096; at most 65,536.
	MaxKeyLen int
	// Merge adds the counts of from into into. The Table calls it to fold
	// an evicted entry's value into other, and to sum other's parts in
	// Snapshot, with a shard's lock held: like Update's fn, it must return
	// quickly and must not call the Table.
	Merge func(into, from *V)
}

// ErrConfig is what every error of New wraps.
var ErrConfig = errors.New("keyed: bad config")

// ConfigError names the Config field that is wrong, its value and why.
type ConfigError struct {
	Field, Value, Msg string
}

// Error says which field is wrong and why.
func (e *ConfigError) Error() string {
	return ErrConfig.Error() + ": " + e.Field + " " + e.Value + ": " + e.Msg
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Table is a bounded table of values of type V by key; see the package
// comment for what it keeps and what it counts in other. Create one with
// New: the zero value is not usable.
//
// Every method is safe for concurrent use. The table is split into up to
// 64 shards by the hash of the key, each with its own lock and its own part
// of other: Update locks one shard, and Snapshot locks one at a time. The
// budgets are the whole table's: a full table makes room for a key by
// evicting from the key's own shard.
//
// # Memory
//
// New allocates the fixed tables: 16 bytes a slot, four slots per entry of
// MaxEntries (a shard may hold twice its share of the keys, at half load),
// rounded up to a power of two per shard, and the admission filter, 8 bytes
// per entry for its sketch and 64 for its doorkeeper, rounded up to powers
// of two: 2.3 MiB in all for 10,000 entries (Stats.FixedBytes). Each entry
// held is two heap objects, its key and a struct with its value, charged to
// MaxBytes at the size the allocator gives them.
type Table[V any] struct {
	seed       maphash.Seed
	adm        *admission.Filter
	shards     []shard[V]
	shift      uint // h>>shift selects the shard
	merge      func(into, from *V)
	maxKeyLen  int
	maxEntries int
	maxBytes   int
	entryBytes int   // the heap bytes of one entry[V]
	fixedBytes int64 // the slots, the shards and the filter

	// entries and bytes are what the shards hold, reserved before an
	// entry is made and released when it is evicted.
	entries atomic.Int64
	bytes   atomic.Int64
	_       cpu.CacheLinePad

	sumMu sync.Mutex // held by Snapshot while it sums other into sum
	sum   V
}

// shard is one part of a Table: its keys, in an open-addressed table with
// linear probing, and its part of other.
type shard[V any] struct {
	mu    sync.Mutex
	slots []slot[V]
	mask  uint64
	hand  uint64 // the next slot the victim sample looks at

	entries int // at most half the slots
	other   V

	hits, others, admitted, evicted, rejected, tooLong uint64
	_                                                  cpu.CacheLinePad // keep the shards' locks on separate cache lines
}

// slot holds an entry and its key's hash; e is nil for an empty slot.
type slot[V any] struct {
	h uint64
	e *entry[V]
}

// entry is a key held, its value, and its frequency on the admission
// filter's scale.
type entry[V any] struct {
	key   string // the Table's own copy
	seen  uint64 // updates since it was admitted, this one included
	count admission.Count
	size  int // the heap bytes charged for it
	v     V
}

// Sizes of the shards and of the victim sample.
const (
	maxShards    = 64
	minShardKeys = 64 // entries per shard at least, when there are several
	sampleSize   = 8  // keys a full table compares a candidate with
	maxVictims   = 8  // keys evicted at most to make room for one
)

// New returns a Table sized by cfg, or a *ConfigError.
func New[V any](cfg Config[V]) (*Table[V], error) {
	if cfg.Merge == nil {
		return nil, &ConfigError{"Merge", "nil", "required: the values of evicted keys are merged into other"}
	}
	maxEntries, err := bound("MaxEntries", cfg.MaxEntries, DefaultMaxEntries, MaxEntriesLimit)
	if err != nil {
		return nil, err
	}
	maxKeyLen, err := bound("MaxKeyLen", cfg.MaxKeyLen, DefaultMaxKeyLen, MaxKeyLenLimit)
	if err != nil {
		return nil, err
	}
	maxBytes, err := bound("MaxBytes", cfg.MaxBytes, DefaultMaxBytes, 1<<40)
	if err != nil {
		return nil, err
	}
	entryBytes := sizeclass.WithPointers(int(unsafe.Sizeof(entry[V]{})))
	longest := entryBytes + sizeclass.Of(maxKeyLen)
	if maxBytes < longest {
		return nil, &ConfigError{"MaxBytes", strconv.Itoa(maxBytes),
			"below one entry with a key of MaxKeyLen (" + strconv.Itoa(longest) + " bytes)"}
	}
	adm, err := admission.New(admission.Config{Keys: maxEntries, Doorkeeper: 2 * maxEntries})
	if err != nil {
		return nil, err
	}
	// Split into shards while each keeps enough keys for its sample to
	// find cold ones.
	n, bits := 1, uint(0)
	for n < maxShards && maxEntries/(2*n) >= minShardKeys {
		n *= 2
		bits++
	}
	t := &Table[V]{
		seed:       maphash.MakeSeed(),
		adm:        adm,
		shards:     make([]shard[V], n),
		shift:      64 - bits,
		merge:      cfg.Merge,
		maxKeyLen:  maxKeyLen,
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		entryBytes: entryBytes,
	}
	t.fixedBytes = adm.Bytes() + int64(sizeclass.WithPointers(n*int(unsafe.Sizeof(shard[V]{}))))
	// Room for twice a shard's share of the keys, at most half full, so
	// that probes stay short and always end. A shard of a full table holds
	// twice its share only when the seeded hash is very unkind: 312 keys
	// in a shard whose share is 156 (10,000 entries) are 12 standard
	// deviations above the mean. Such a shard evicts its own keys.
	size := 8
	for size < 4*((maxEntries+n-1)/n) {
		size *= 2
	}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.slots = make([]slot[V], size)
		sh.mask = uint64(size - 1)
		t.fixedBytes += int64(sizeclass.WithPointers(size * int(unsafe.Sizeof(slot[V]{}))))
	}
	return t, nil
}

// bound applies a size field's default and bound.
func bound(field string, v, def, limit int) (int, error) {
	switch {
	case v < 0:
		return 0, &ConfigError{field, strconv.Itoa(v), "negative"}
	case v > limit:
		return 0, &ConfigError{field, strconv.Itoa(v), "above " + strconv.Itoa(limit)}
	case v == 0:
		return def, nil
	}
	return v, nil
}

// b2s returns a string that shares b's bytes, for lookups only: it is
// valid only while b is reachable and unmodified.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// locate returns the hash of key and its shard. A key longer than
// MaxKeyLen is hashed on its first MaxKeyLen bytes only: it gets no entry,
// and the hash only picks the shard whose other counts it.
func (t *Table[V]) locate(key []byte) (uint64, *shard[V]) {
	h := maphash.Comparable(t.seed, b2s(key[:min(len(key), t.maxKeyLen)]))
	return h, &t.shards[h>>t.shift&uint64(len(t.shards)-1)]
}

// find returns the index of key's slot and its entry, or the index of the
// empty slot where its probe ended and nil.
func (sh *shard[V]) find(h uint64, key []byte) (uint64, *entry[V]) {
	for i := h & sh.mask; ; i = (i + 1) & sh.mask {
		s := &sh.slots[i]
		if s.e == nil || s.h == h && s.e.key == string(key) {
			return i, s.e
		}
	}
}

// Update calls fn with the value of key: the value of its own entry if the
// key has one or gets one now (a new entry starts from V's zero value),
// and otherwise the shared other value. It reports whether fn got the
// key's own value. key is not retained: it may be a view into a buffer
// that is reused once Update returns. Update allocates nothing when the key
// has an entry (a hit) or gets none, and two objects, a copy of the key and
// the entry, when it gets one.
//
// fn runs with the lock of the key's shard held, so that updates of one
// value never run at once and V needs no atomics. fn must return quickly,
// must not retain v, and must not call the Table (it would deadlock). A
// panic in fn leaves the Table usable; the update may be partial.
func (t *Table[V]) Update(key []byte, fn func(v *V)) bool {
	h, sh := t.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(key) <= t.maxKeyLen {
		if i, e := sh.find(h, key); e != nil {
			e.seen++
			sh.hits++
			fn(&e.v)
			return true
		} else if e = t.admit(sh, h, i, key); e != nil {
			fn(&e.v)
			return true
		}
	} else {
		sh.tooLong++
	}
	sh.others++
	fn(&sh.other)
	return false
}

// admit decides whether key, which has no entry and whose probe ended at
// the empty slot i, gets one: at once while the shard has room, else if
// its estimate beats the coldest keys of a sample, which it evicts. It
// returns the new entry, or nil. sh is locked.
func (t *Table[V]) admit(sh *shard[V], h, i uint64, key []byte) *entry[V] {
	est := t.adm.Record(h)
	size := t.entryBytes + sizeclass.Of(len(key))
	if !t.reserve(sh, size) {
		// A key seen once lately (est 1) never takes another's place: a
		// flood of one-off keys costs the table no eviction.
		if est < 2 || !t.makeRoom(sh, est, size) {
			sh.rejected++
			return nil
		}
		// Evictions moved entries back along their probes: find the
		// empty slot again.
		i, _ = sh.find(h, key)
	}
	e := &entry[V]{key: string(key), seen: 1, size: size}
	e.count.Start(t.adm, est, 1)
	sh.slots[i] = slot[V]{h: h, e: e}
	sh.entries++
	sh.admitted++
	return e
}

// reserve takes an entry of size bytes from the budgets and reports
// whether they had room for it, and the shard a free slot. sh is locked.
func (t *Table[V]) reserve(sh *shard[V], size int) bool {
	if 2*(sh.entries+1) > len(sh.slots) {
		return false
	}
	// A full table, the usual case for a key refused, is seen with two
	// loads. Otherwise add first and give back when over: two shards
	// admitting at once never both take the last room (one may fail when
	// there was room for one, and try to make room).
	if t.entries.Load() >= int64(t.maxEntries) || t.bytes.Load()+int64(size) > int64(t.maxBytes) {
		return false
	}
	n, b := t.entries.Add(1), t.bytes.Add(int64(size))
	if n > int64(t.maxEntries) || b > int64(t.maxBytes) {
		t.entries.Add(-1)
		t.bytes.Add(-int64(size))
		return false
	}
	return true
}

// makeRoom evicts up to maxVictims of the shard's coldest keys, each from
// a sample of sampleSize, until an entry of size bytes fits, as long as the
// candidate's estimate est wins against each (admission.Filter.Admit). It
// reports whether it reserved the room. sh is locked.
func (t *Table[V]) makeRoom(sh *shard[V], est, size int) bool {
	for range maxVictims {
		i, count := sh.coldest(t.adm)
		if sh.slots[i].e == nil || !t.adm.Admit(est, count) {
			return false
		}
		t.evict(sh, i)
		if t.reserve(sh, size) {
			return true
		}
	}
	return false
}

// coldest returns the slot of the least frequent of the next sampleSize
// entries from the shard's hand, and its count; the slot is empty only when
// the shard is. sh is locked.
func (sh *shard[V]) coldest(f *admission.Filter) (uint64, int) {
	best, bestCount := uint64(0), admission.MaxEstimate+1
	for k, n := 0, 0; k < len(sh.slots) && n < sampleSize; k++ {
		i := sh.hand
		sh.hand = (sh.hand + 1) & sh.mask
		e := sh.slots[i].e
		if e == nil {
			continue
		}
		n++
		if c := e.count.Value(f, e.seen); c < bestCount {
			best, bestCount = i, c
		}
	}
	return best, bestCount
}

// evict folds the entry in slot i into other and removes it. sh is locked.
func (t *Table[V]) evict(sh *shard[V], i uint64) {
	e := sh.slots[i].e
	t.merge(&sh.other, &e.v)
	sh.remove(i)
	sh.entries--
	sh.evicted++
	t.entries.Add(-1)
	t.bytes.Add(-int64(e.size))
}

// remove empties slot i and moves later entries of its probe run back, so
// that every entry stays reachable from its home slot without tombstones.
func (sh *shard[V]) remove(i uint64) {
	for j := (i + 1) & sh.mask; sh.slots[j].e != nil; j = (j + 1) & sh.mask {
		// The entry at j may move to i if i lies on its probe, from its
		// home slot to j.
		if home := sh.slots[j].h & sh.mask; (j-home)&sh.mask >= (j-i)&sh.mask {
			sh.slots[i] = sh.slots[j]
			i = j
		}
	}
	sh.slots[i] = slot[V]{}
}

// Get returns a copy of the value of key and true if key has an entry of
// its own, or V's zero value and false. It counts no sighting and
// allocates nothing.
func (t *Table[V]) Get(key []byte) (V, bool) {
	var v V
	if len(key) > t.maxKeyLen {
		return v, false
	}
	h, sh := t.locate(key)
	sh.mu.Lock()
	_, e := sh.find(h, key)
	if e != nil {
		v = e.v
	}
	sh.mu.Unlock()
	return v, e != nil
}

// Len returns the number of keys with an entry of their own.
func (t *Table[V]) Len() int { return int(t.entries.Load()) }
