package compare

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flatheap/ingest/keyed"
	"github.com/maypok86/otter/v2"
)

// Per-key state, the way a daemon keeps it per path: keyed.Table beside the
// map a daemon writes first and an otter cache, each holding at most
// keyedCapacity keys and counting requests and bytes per key.

// keyedCapacity is every peer's capacity: ingest serve's --max-paths.
const keyedCapacity = 10000

// keyedValue is what the peers keep per key.
type keyedValue struct{ requests, bytes int64 }

// A keyedPeer counts one request of size bytes under key and reports
// whether the key has its own entry.
type keyedPeer interface {
	add(key []byte, size int64) bool
}

type keyedTable struct{ t *keyed.Table[keyedValue] }

func (p keyedTable) add(key []byte, size int64) bool {
	return p.t.Update(key, func(v *keyedValue) { v.requests++; v.bytes += size })
}

// keyedMap is a map keyed by string(key), under a mutex: the lookup does
// not allocate, an insertion copies the key. It takes keys until it holds
// keyedCapacity and counts the rest in other.
type keyedMap struct {
	mu    sync.Mutex
	m     map[string]*keyedValue
	other keyedValue
}

func (p *keyedMap) add(key []byte, size int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, held := p.m[string(key)]
	if !held {
		if len(p.m) < keyedCapacity {
			v, held = new(keyedValue), true
			p.m[string(key)] = v
		} else {
			v = &p.other
		}
	}
	v.requests++
	v.bytes += size
	return held
}

// keyedOtter is an otter cache of pointers to atomic counters, looked up
// with a view of the key, a new entry set on a miss (otter's own TinyLFU
// decides what it keeps), and an eviction folded into other. An update
// through a pointer read just before its entry was evicted is lost from
// the totals: that is the price of values updated outside the cache.
type keyedOtter struct {
	c     *otter.Cache[string, *otterValue]
	other otterValue
}

type otterValue struct{ requests, bytes atomic.Int64 }

func newKeyedOtter() *keyedOtter {
	p := &keyedOtter{}
	p.c = otter.Must(&otter.Options[string, *otterValue]{
		MaximumSize: keyedCapacity,
		OnAtomicDeletion: func(e otter.DeletionEvent[string, *otterValue]) {
			if e.WasEvicted() {
				p.other.requests.Add(e.Value.requests.Load())
				p.other.bytes.Add(e.Value.bytes.Load())
			}
		},
	})
	return p
}

func (p *keyedOtter) add(key []byte, size int64) bool {
	v, held := p.c.GetIfPresent(b2s(key))
	if !held {
		v = new(otterValue)
		p.c.Set(string(key), v)
	}
	v.requests.Add(1)
	v.bytes.Add(size)
	return held
}

var keyedPeers = []struct {
	name string
	new  func(b *testing.B) keyedPeer
}{
	{"keyed", func(b *testing.B) keyedPeer {
		t, err := keyed.New(keyed.Config[keyedValue]{MaxEntries: keyedCapacity, MaxBytes: 64 << 20,
			Merge: func(into, from *keyedValue) { into.requests += from.requests; into.bytes += from.bytes }})
		if err != nil {
			b.Fatal(err)
		}
		return keyedTable{t}
	}},
	{"map-mutex", func(*testing.B) keyedPeer {
		return &keyedMap{m: make(map[string]*keyedValue, keyedCapacity)}
	}},
	{"otter", func(*testing.B) keyedPeer { return newKeyedOtter() }},
}

// keyedKey returns a key of n bytes (at least 18), a path whose first
// bytes after the slash are i in 16 hex digits.
func keyedKey(n int, i uint64) []byte {
	key := make([]byte, n)
	for j := range key {
		key[j] = "abcdefghijklmnop"[j%16]
	}
	key[0] = '/'
	setKeyedKey(key, i)
	return key
}

// setKeyedKey writes i into key as keyedKey does: the cost of a new key in
// the miss cases, the same for every peer.
func setKeyedKey(key []byte, i uint64) {
	const hex = "0123456789abcdef"
	for j := 16; j >= 1; j-- {
		key[j] = hex[i&15]
		i >>= 4
	}
}

// hotKeyed is the number of held keys the hit cases cycle through.
const hotKeyed = 1000

// BenchmarkKeyed counts one request per iteration, as
// BenchmarkKeyed/<case>/<peer>:
//   - hit-40B, hit-2KiB: a held key, cycling through 1,000 held keys of
//     that length;
//   - miss-40B, miss-2KiB: a key never seen before, in a peer filled with
//     three times its capacity of keys seen once (a one-off path of a
//     flood). The peers that admit on sight (otter, map-mutex while it has
//     room) pay for an insertion; keyed refuses it and counts it in other.
//
// The hit cases check that the key was held; keyed's miss case that it was
// not.
func BenchmarkKeyed(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
		hit  bool
	}{{"hit-40B", 40, true}, {"hit-2KiB", 2048, true}, {"miss-40B", 40, false}, {"miss-2KiB", 2048, false}} {
		b.Run(c.name, func(b *testing.B) {
			for _, p := range keyedPeers {
				b.Run(p.name, func(b *testing.B) {
					peer := p.new(b)
					keys := make([][]byte, hotKeyed)
					for i := range keys {
						keys[i] = keyedKey(c.n, uint64(i))
						peer.add(keys[i], 1)
						peer.add(keys[i], 1)
					}
					if o, ok := peer.(*keyedOtter); ok {
						o.c.CleanUp() // its buffered writes are applied
					}
					key := keyedKey(c.n, 0)
					if !c.hit {
						for i := range 3 * keyedCapacity {
							setKeyedKey(key, uint64(hotKeyed+i))
							peer.add(key, 1)
						}
					}
					next := uint64(1 << 40)
					_, isKeyed := peer.(keyedTable)
					b.ReportAllocs()
					b.SetBytes(int64(c.n))
					i := 0
					for b.Loop() {
						if c.hit {
							if !peer.add(keys[i], 1) {
								b.Fatal("a held key was not found")
							}
							if i++; i == hotKeyed {
								i = 0
							}
							continue
						}
						next++
						setKeyedKey(key, next)
						if peer.add(key, 1) && isKeyed {
							b.Fatal("a one-off key got an entry in a full table")
						}
					}
				})
			}
		})
	}
}
