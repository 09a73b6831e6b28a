package routemetrics

// Retiring a key: the store removes keys (eviction, expiry) while lines
// count in them without a lock. Nothing a line adds may be lost or counted
// twice, so that the sum of every counter over the exposition and the
// counts of expired keys (Stats) always equals what was observed.
//
// An entry or class histogram is retired in three steps:
//
//  1. Under its shard's mutex, its fold pointer is set: to &retiring (or
//     &retiringHist) when its destination is not known yet (eviction,
//     whose destination is an {overflow} series that may have to be
//     created in another shard), or to the destination itself (expiry:
//     the store's sink). A class histogram's is set before the entries'.
//     Then the key is unpublished.
//  2. Once the destination d is known, fold is set to d.
//  3. Each of its counters is swapped to 0 and what it held added to d.
//
// A line adds to its entry (and the entry's class histogram) and then
// loads the entry's fold. Go's atomics are sequentially consistent, so:
// if the line sees nil, its adds precede step 1, hence step 3, which
// moves them; if it sees &retiring, its adds precede step 2, hence step
// 3; if it sees d, it swaps the counters itself and adds them to d (and
// does the same for the class histogram when its fold is set, which it is
// whenever the entry's is, if it is retired at all). A swap moves each
// unit once, whoever does it. A destination may itself be retired (an
// {overflow} series expiring): what is added to it is then moved on in
// the same way, and the sink is never retired.

// retiring and retiringHist mark a retired entry or class histogram whose
// counts have no destination yet.
var (
	retiring     entry
	retiringHist classHist
)

// drain moves the counts of e, which was retired, to its destination, and
// on down the chain of retired destinations. It stops at a destination
// not yet known (its retirer moves the counts) or not retired.
func (s *Store) drain(e *entry) {
	if h := e.ch; h != nil && h.fold.Load() != nil {
		s.drainHist(h)
	}
	for {
		to := e.fold.Load()
		if to == nil || to == &retiring {
			return
		}
		s.moveEntry(e, to)
		e = to
	}
}

// drainHist is drain for a class histogram.
func (s *Store) drainHist(h *classHist) {
	for {
		to := h.fold.Load()
		if to == nil || to == &retiringHist {
			return
		}
		s.moveHist(h, to)
		h = to
	}
}

// moveEntry swaps e's counters out and adds them to to, and stamps to as
// seen, so that the destination of a move does not expire at once.
func (s *Store) moveEntry(e, to *entry) {
	if n := e.requests.Swap(0); n > 0 {
		to.requests.Add(n)
	}
	if n := e.respBytes.Swap(0); n > 0 {
		satAdd(&to.respBytes, n)
	}
	if n := e.reqBytes.Swap(0); n > 0 {
		satAdd(&to.reqBytes, n)
	}
	// A line sets hasReq after adding its bytes, and checks fold after
	// that: whichever move comes last sees it.
	if e.hasReq.Load() && !to.hasReq.Load() {
		to.hasReq.Store(true)
	}
	if c := s.clock.Load(); to.seen.Load() < c {
		to.seen.Store(c)
	}
}

// moveHist swaps h's cells out and adds them to to.
func (s *Store) moveHist(h, to *classHist) {
	n := len(s.bounds) + 2
	for i := range h.v {
		x := h.v[i].Swap(0)
		if x == 0 {
			continue
		}
		if i%n == n-1 {
			satAdd(&to.v[i], x) // a sum, in ns
		} else {
			to.v[i].Add(x)
		}
	}
}

// finish does steps 2 and 3 for e, retired with &retiring, whose counts go
// to to; then it moves on whatever reached to if to was retired meanwhile.
func (s *Store) finish(e, to *entry) {
	e.fold.Store(to)
	s.moveEntry(e, to)
	if to.fold.Load() != nil {
		s.drain(to)
	}
}

// finishHist is finish for a class histogram.
func (s *Store) finishHist(h, to *classHist) {
	h.fold.Store(to)
	s.moveHist(h, to)
	if to.fold.Load() != nil {
		s.drainHist(to)
	}
}
