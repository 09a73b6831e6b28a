package forward

import (
	"sync"
	"sync/atomic"
)

// budget is the memory budget of everything in flight: a byte counter
// that never passes its limit, and a way for blocked callers to wait for
// room.
type budget struct {
	limit   int64
	used    atomic.Int64
	refused atomic.Uint64 // reservations refused (drop mode) or waited for (block mode)
	waiters atomic.Int32
	mu      sync.Mutex
	cond    sync.Cond
	closed  bool // under mu: waiters give up
}

func (b *budget) init(limit int64) {
	b.limit = limit
	b.cond.L = &b.mu
}

// reserve takes n bytes if they fit.
func (b *budget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// force takes n bytes whether they fit or not: for memory that already
// exists and must be accounted.
func (b *budget) force(n int64) { b.used.Add(n) }

// release gives n bytes back and wakes the waiters.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.used.Add(-n)
	if b.waiters.Load() > 0 {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	}
}

// wait takes n bytes, waiting for them as long as it takes; false when
// the budget was closed first.
func (b *budget) wait(n int64) bool {
	if b.reserve(n) {
		return true
	}
	b.waiters.Add(1)
	defer b.waiters.Add(-1)
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed {
		if b.reserve(n) {
			return true
		}
		b.cond.Wait()
	}
	return false
}

// close wakes every waiter for good.
func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// rawPool recycles the batch buffers, all BatchBytes long. Every buffer
// that exists is charged to the budget; the pool keeps at most keep of
// them and frees the others.
type rawPool struct {
	size int
	keep int
	b    *budget
	mu   sync.Mutex
	free [][]byte
}

// get returns an empty buffer, from the pool or newly made if the budget
// has room; nil when it has none. With block it waits for a buffer (nil
// only when the budget closed).
func (p *rawPool) get(block bool) []byte {
	if buf := p.tryGet(); buf != nil {
		return buf
	}
	p.b.refused.Add(1)
	if !block {
		return nil
	}
	b := p.b
	b.waiters.Add(1)
	defer b.waiters.Add(-1)
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed {
		if buf := p.tryGet(); buf != nil {
			return buf
		}
		b.cond.Wait()
	}
	return nil
}

func (p *rawPool) tryGet() []byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		buf := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return buf
	}
	p.mu.Unlock()
	if !p.b.reserve(int64(p.size)) {
		return nil
	}
	return make([]byte, 0, p.size)
}

// put gives buf back; buf must not be used after.
func (p *rawPool) put(buf []byte) {
	if cap(buf) != p.size {
		panic("forward: foreign buffer returned to the pool")
	}
	p.mu.Lock()
	if len(p.free) < p.keep {
		// Still charged: a pooled buffer is memory held.
		p.free = append(p.free, buf[:0])
		p.mu.Unlock()
		if p.b.waiters.Load() > 0 {
			p.b.mu.Lock()
			p.b.cond.Broadcast()
			p.b.mu.Unlock()
		}
		return
	}
	p.mu.Unlock()
	p.b.release(int64(p.size))
}

// drain frees every pooled buffer.
func (p *rawPool) drain() {
	p.mu.Lock()
	n := len(p.free)
	clear(p.free)
	p.free = p.free[:0]
	p.mu.Unlock()
	p.b.release(int64(n) * int64(p.size))
}
