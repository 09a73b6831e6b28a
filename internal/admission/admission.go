// Package admission decides which keys of an unbounded stream deserve one of
// the few slots of a bounded table: the keys seen often lately, and not the
// flood of keys seen once (scanners probing random paths, random vhosts).
//
// A Filter is TinyLFU's admission policy, made safe for concurrent use and
// free of allocation:
//
//   - a doorkeeper, a table of recent first sightings, absorbs them: a key
//     seen once lately costs the frequency sketch nothing, and a key never
//     seen is told from a key seen once with a false-positive rate of about
//     4e-12 at its design load (see doorkeeper.go for the arithmetic);
//   - a count-min sketch of 4-bit counters (Caffeine's layout: the four
//     counters of a key in one 64-byte block) counts the later sightings;
//   - aging halves every counter after 10 x Keys counted sightings, and at
//     least once per Period of the owner's clock, so that the estimates
//     follow what is frequent now; the doorkeeper forgets by generations.
//
// The owner hashes its keys (with a per-process seed: see Hash), calls
// Record for each sighting of a key it does not hold, and compares the
// estimate Record returns with a threshold (admit on the second sighting:
// estimate >= 2) and, when its table is full, with the count of the
// coldest key it holds (Admit). It keeps exact counts of the keys it
// holds, on the sketch's scale with a Count, so that the sketch estimates
// only candidates. The filter starts no goroutine: the owner calls Tick
// with its clock.
//
// Estimates run from 0 to MaxEstimate: 0 for a key not seen lately, 1 for
// its first sighting, and 1 plus the sketch's count for the later ones.
package admission

import (
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// Sizes and bounds.
const (
	// MaxEstimate is the largest estimate, and the cap of a Count.
	MaxEstimate = 15
	// HotEstimate is the least estimate of a candidate that Admit lets in
	// at random, one time in 128, when it does not beat its victim: a
	// sender who crafts keys whose counters collide with a hot victim's
	// cannot keep a warm candidate out for ever.
	HotEstimate = 6
	// DefaultKeys is Config.Keys when it is zero: 128 KiB of sketch.
	DefaultKeys = 1 << 14
	// DefaultDoorkeeper is Config.Doorkeeper when it is zero: 2 MiB of
	// doorkeeper, which remembers a first sighting for 3 to 6 seconds of
	// a flood of 20,000 new keys a second.
	DefaultDoorkeeper = 1 << 16
	// DefaultPeriod is Config.Period when it is zero.
	DefaultPeriod = 10 * time.Minute
	// MaxSize bounds Config.Keys and Config.Doorkeeper.
	MaxSize = 1 << 24
	// minKeys and minDoorkeeper are the sizes smaller values are raised
	// to.
	minKeys       = 64
	minDoorkeeper = 256
)

// Config sizes a Filter. The zero value is valid.
type Config struct {
	// Keys is how many keys the frequency sketch is sized for, rounded up
	// to a power of two (at least 64): one 64-bit word of sixteen
	// counters per key, four counters a key. Every counter is halved
	// after 10 x Keys counted sightings. Default DefaultKeys; at most
	// MaxSize.
	Keys int
	// Doorkeeper is how many first sightings each of the doorkeeper's two
	// generations takes before the older one is cleared, rounded up to a
	// power of two (at least 256); it costs 32 bytes per key. A first
	// sighting is remembered for one to two generations, or one to two
	// Periods when fewer keys come. Default DefaultDoorkeeper; at most
	// MaxSize.
	Doorkeeper int
	// Period is the longest time between two halvings of the sketch, and
	// between two rotations of the doorkeeper, on the clock Tick is given.
	// Default DefaultPeriod.
	Period time.Duration
}

// ErrConfig is what every error of New wraps.
var ErrConfig = errors.New("admission: bad config")

// ConfigError names the Config field that is wrong and its value.
type ConfigError struct {
	Field string
	Value string
	Msg   string
}

// Error says which field is wrong and why.
func (e *ConfigError) Error() string {
	return ErrConfig.Error() + ": " + e.Field + " " + e.Value + ": " + e.Msg
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Filter is the admission policy. Create one with New; every method is
// safe for concurrent use and costs no allocation.
type Filter struct {
	seed      maphash.Seed
	mixSeed   uint64
	sketch    sketch
	dk        *doorkeeper
	period    int64 // ns
	ageLimit  int64 // counted sightings between halvings, sampled
	ageSample uint64
	ageMu     sync.Mutex // held while halving

	// Written at each Tick and each aging: rarely.
	epoch       atomic.Uint64 // halvings so far
	now         atomic.Int64  // the last time Tick was given, ns
	lastHalve   atomic.Int64  // the time of the last halving, ns
	lastRotate  atomic.Int64  // the time of the last rotation, ns
	halvings    atomic.Uint64
	timedHalves atomic.Uint64
	_           cpu.CacheLinePad

	// Written by sightings that reach the sketch.
	sightings atomic.Int64 // sampled, since the last halving
	_         cpu.CacheLinePad
}

// New returns a Filter sized by cfg, or a *ConfigError.
func New(cfg Config) (*Filter, error) {
	keys, err := size("Keys", cfg.Keys, DefaultKeys, minKeys)
	if err != nil {
		return nil, err
	}
	load, err := size("Doorkeeper", cfg.Doorkeeper, DefaultDoorkeeper, minDoorkeeper)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Period < 0:
		return nil, &ConfigError{"Period", cfg.Period.String(), "negative"}
	case cfg.Period == 0:
		cfg.Period = DefaultPeriod
	}
	f := &Filter{
		seed:   maphash.MakeSeed(),
		sketch: newSketch(keys),
		dk:     newDoorkeeper(load),
		period: int64(cfg.Period),
	}
	f.mixSeed = maphash.Bytes(f.seed, []byte("admission"))
	// Count one sighting in 8, drawn at random, toward the halving when
	// that still leaves 512 counts per period: sightings on different
	// cores then rarely write the same counter. (The doorkeeper samples
	// by key, which is as good for its stream of mostly distinct keys; a
	// few keys seen over and over would skew a sample by key here.)
	window := int64(10 * keys)
	f.ageLimit = window
	if window >= 4096 {
		f.ageSample, f.ageLimit = 7, window/8
	}
	return f, nil
}

// size applies a size field's default, bound and minimum, and rounds it up
// to a power of two.
func size(field string, v, def, least int) (int, error) {
	switch {
	case v < 0:
		return 0, &ConfigError{field, strconv.Itoa(v), "negative"}
	case v > MaxSize:
		return 0, &ConfigError{field, strconv.Itoa(v), "above " + strconv.Itoa(MaxSize)}
	case v == 0:
		v = def
	}
	n := least
	for n < v {
		n <<= 1
	}
	return n, nil
}

// Hash returns the hash of b with the filter's seed, which New draws for
// each process, so that a sender cannot aim keys at chosen counters. An
// owner that already hashes its keys with a seed of its own (hash/maphash)
// may give Record that hash instead.
func (f *Filter) Hash(b []byte) uint64 { return maphash.Bytes(f.seed, b) }

// mix spreads h and folds in the filter's seed, so that every bit of the
// result depends on every bit of h.
func (f *Filter) mix(h uint64) uint64 {
	x := h ^ f.mixSeed
	x ^= x >> 32
	x *= 0xd6e8feb86659fd93
	x ^= x >> 32
	x *= 0xd6e8feb86659fd93
	x ^= x >> 32
	return x
}

// Record counts a sighting of the key with hash h and returns its estimate,
// this sighting included: 1 when the doorkeeper did not hold the key (it
// now does; the sketch is not touched), else 1 plus the sketch's count of
// its later sightings, at most MaxEstimate. A key's second sighting within
// the doorkeeper's memory thus returns 2 or more.
func (f *Filter) Record(h uint64) int { return f.RecordMixed(f.mix(h)) }

// Touch asks the CPU for the doorkeeper's cache line of the key with hash
// h, without waiting for it and without counting a sighting, and returns
// the hash mixed with the filter's seed, for RecordMixed. An owner that
// may record the key shortly calls it as soon as it has the hash, so that
// the line (one of the doorkeeper's 2 MiB at the defaults, often not in
// the cache) comes from memory while it does other work, such as looking
// the key up in its own table. On amd64 and arm64 it is a prefetch
// instruction; elsewhere it only mixes.
func (f *Filter) Touch(h uint64) uint64 {
	x := f.mix(h)
	f.dk.touch(x)
	return x
}

// RecordMixed is Record for a hash that Touch mixed.
func (f *Filter) RecordMixed(x uint64) int {
	seen, full, gen := f.dk.visit(x)
	if full {
		f.dk.rotate(gen)
		f.lastRotate.Store(f.now.Load())
	}
	if !seen {
		return 1
	}
	c := f.sketch.increment(x)
	if uint64(rand.Uint32())&f.ageSample == 0 && f.sightings.Add(1) == f.ageLimit {
		f.halve(false)
	}
	return min(MaxEstimate, 1+c)
}

// Estimate returns the estimate of the key with hash h without counting a
// sighting: 0 when the doorkeeper does not hold it, else what Record
// returned for its last sighting, less the halvings since.
func (f *Filter) Estimate(h uint64) int {
	x := f.mix(h)
	if !f.dk.contains(x) {
		return 0
	}
	return min(MaxEstimate, 1+f.sketch.estimate(x))
}

// Admit reports whether a candidate with estimate candidate should take the
// place of a victim whose count, on the same scale (see Count), is victim:
// when the candidate is the more frequent, or, one time in 128 at random,
// when it is at least HotEstimate.
func (f *Filter) Admit(candidate, victim int) bool {
	if candidate > victim {
		return true
	}
	return candidate >= HotEstimate && rand.Uint32()&127 == 0
}

// Tick gives the filter the owner's clock: when Period has passed since the
// last halving, it halves the sketch; when it has passed since the last
// rotation, it rotates the doorkeeper. The first call only starts the
// clock. Time going backwards does nothing.
func (f *Filter) Tick(now time.Time) {
	t := now.UnixNano()
	if t <= f.now.Load() {
		return
	}
	f.now.Store(t)
	if last := f.lastHalve.Load(); last == 0 {
		f.lastHalve.CompareAndSwap(0, t)
	} else if t-last >= f.period && f.lastHalve.CompareAndSwap(last, t) {
		f.halve(true)
	}
	if last := f.lastRotate.Load(); last == 0 {
		f.lastRotate.CompareAndSwap(0, t)
	} else if t-last >= f.period && f.lastRotate.CompareAndSwap(last, t) {
		f.dk.rotate(f.dk.cur.Load())
	}
}

// Rotate starts a new generation of the doorkeeper now: the keys of the
// older one are forgotten.
func (f *Filter) Rotate() {
	f.dk.rotate(f.dk.cur.Load())
	f.lastRotate.Store(f.now.Load())
}

// Halve halves the sketch now, as 10 x Keys sightings or a Period would.
func (f *Filter) Halve() { f.halve(false) }

// halve halves every counter and starts a new epoch. A halving by count
// restarts the clock of the timed one, so that the two do not come in a
// row.
func (f *Filter) halve(timed bool) {
	f.ageMu.Lock()
	defer f.ageMu.Unlock()
	f.sketch.halve()
	f.sightings.Store(0)
	if timed {
		f.timedHalves.Add(1)
	} else if now := f.now.Load(); now != 0 {
		f.lastHalve.Store(now)
	}
	f.halvings.Add(1)
	f.epoch.Add(1)
}

// Epoch returns the number of halvings so far. A Count uses it to age an
// owner's exact count as the sketch ages its counters.
func (f *Filter) Epoch() uint64 { return f.epoch.Load() }

// Stats are a Filter's counters and size.
type Stats struct {
	// Halvings counts the halvings of the sketch; TimedHalvings those of
	// them that Period brought about.
	Halvings, TimedHalvings uint64
	// Rotations counts the doorkeeper's new generations, by load or by
	// Period: a first sighting is remembered for one to two of them.
	Rotations uint64
	// Bytes is the memory of the sketch and the doorkeeper, all allocated
	// by New.
	Bytes int64
}

// Stats returns the filter's counters.
func (f *Filter) Stats() Stats {
	return Stats{Halvings: f.halvings.Load(), TimedHalvings: f.timedHalves.Load(), Rotations: f.dk.rotations.Load(), Bytes: f.Bytes()}
}

// Bytes returns the memory of the filter's tables, fixed by New.
func (f *Filter) Bytes() int64 { return f.sketch.bytes() + f.dk.bytes() }

// Count is an owner's count of a key it holds, on the scale of the filter's
// estimates: the estimate the key was admitted with, plus its sightings
// since, halved at each halving of the sketch and capped at MaxEstimate.
// The owner keeps its own running total of the key's sightings (a counter
// it has anyway), and a Count remembers where that total stood when it
// was last read; it ages when read, so an owner should read its counts
// at least once between halvings (see Value). A Count is not safe for concurrent use: the owner
// guards it as it guards the key's slot. Its zero value is a count of 0
// at epoch 0.
type Count struct {
	epoch uint64
	base  uint64 // the owner's total when the count was last aged
	carry uint8  // the count at that time
}

// Start sets the count of a key just admitted with estimate est, when the
// owner's total of its sightings is total (est covers them).
func (c *Count) Start(f *Filter, est int, total uint64) {
	*c = Count{epoch: f.Epoch(), base: total, carry: uint8(max(0, min(est, MaxEstimate)))}
}

// Value returns the count, given the owner's current total of the key's
// sightings. A total below the last one seen (the owner dropped some)
// counts as no sighting since.
func (c *Count) Value(f *Filter, total uint64) int {
	if total < c.base {
		c.base = total
	}
	recent := total - c.base
	var n uint64
	if e := f.Epoch(); e == c.epoch {
		n = min(uint64(c.carry)+recent, MaxEstimate)
	} else {
		// d halvings since the last read. Nothing tells when the
		// sightings since came: they are taken to be as late as they
		// can be, after all but the last halving, so that a key seen
		// lately is not taken for a cold one. An owner that reads its
		// counts at least once between halvings makes this exact.
		d := min(e-c.epoch, 8)
		n = min(uint64(c.carry)>>d+recent>>(d-1), MaxEstimate)
		c.epoch = e
	}
	c.base, c.carry = total, uint8(n)
	return int(n)
}

// Rebase ages the count as Value does with before, the owner's total until
// now, and then makes after the total to count on from: for an owner that
// drops part of a key's total (a slot of several counters losing one)
// without wanting its count to change.
func (c *Count) Rebase(f *Filter, before, after uint64) {
	n := c.Value(f, before)
	c.base, c.carry = after, uint8(n)
}
