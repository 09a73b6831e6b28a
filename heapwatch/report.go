package heapwatch

import (
	"fmt"
	"strings"
	"time"
)

// String returns the report in one line, for example
//
//	growing: values kept per distinct key (live +1.2 MiB/min, objects +3.1k/min, fit 0.98)
//	flat over 1m0s, 45 GC cycles (live -1.0 KiB/min, retained +0 B/min)
//	filling declared budgets: interner 6.1 of 8.0 MiB (76%), paths 9,800 of 10,000 (98%); the rest flat at 12.0 MiB (+2.0 KiB/min); ceiling 40.0 MiB live
//	unknown: 5 samples in the window, need 10
//	warming up (2 of 4 GC cycles)
//
// A process warming up (Report.WarmingUp) gets "warming up (...)" with the
// reason instead of "unknown: ". A verdict a Monitor holds (Report.Held)
// ends in "; held: still rising, not steadily enough over this window to
// name on its own".
//
// When structures are tracked, PerKey and PinnedBuffers were judged on the
// heap beyond them: the line says "beyond the declared budgets", gives the
// unaccounted heap's figures and names the structures filling beside it.
// A structure at its limit and refusing values adds "; at budget: interner
// 8.0 of 8.0 MiB (100%), refusing 1,200/s" to any verdict. PerKey and
// PinnedBuffers add "; retained memory rises too, by more than the live
// heap explains (+959.5 MiB/min)" when the memory the runtime holds grew by
// more than twice the live heap's growth (big short-lived buffers beside
// the kept values). Their live figures are those of the trend judged: the
// live points', or their floor's when only the floor rose steadily.
func (r Report) String() string {
	var b strings.Builder
	switch r.Growth {
	case Unknown:
		if !r.WarmingUp {
			b.WriteString("unknown: ")
		}
		b.WriteString(r.Reason)
	case Flat:
		fmt.Fprintf(&b, "flat over %v, %d GC cycles (", r.Window.Round(time.Second), r.GCCycles)
		if r.Live.Known() {
			fmt.Fprintf(&b, "live %s/min, ", signedBytes(r.Live.PerMinute()))
		}
		fmt.Fprintf(&b, "retained %s/min", signedBytes(r.Retained.PerMinute()))
		if r.RSS.Known() {
			fmt.Fprintf(&b, ", RSS %s/min", signedBytes(r.RSS.PerMinute()))
		}
		b.WriteString(")")
	case Filling:
		b.WriteString("filling declared budgets: ")
		r.writeFilling(&b)
		fmt.Fprintf(&b, "; the rest flat at %s (%s/min)", formatBytes(r.Unaccounted.Median),
			signedBytes(r.Unaccounted.PerMinute()))
		if r.Ceiling > 0 {
			fmt.Fprintf(&b, "; ceiling %s live", formatBytes(r.Ceiling))
		} else if name := r.unbounded(); name != "" {
			fmt.Fprintf(&b, "; no ceiling: %s has no limit", name)
		}
	default:
		r.writeGrowing(&b)
		if r.Held {
			b.WriteString("; held: still rising, not steadily enough over this window to name on its own")
		}
	}
	r.writeAtLimit(&b)
	return b.String()
}

// writeGrowing writes the line of a kind of growth that Growing reports.
func (r Report) writeGrowing(b *strings.Builder) {
	beyond := r.Unaccounted.Known() && r.Growth != GoroutineLeak && r.Growth != OffHeap && r.Growth != Retained
	live, objs, name := r.Live, r.Objects, "live"
	if beyond {
		live, objs, name = r.Unaccounted, r.UnaccountedObjects, "unaccounted"
	}
	if r.judged.Known() {
		live = r.judged // the points' trend, or their floor's when only it rose
	}
	b.WriteString("growing: ")
	b.WriteString(r.Growth.Phrase())
	if beyond {
		b.WriteString(" beyond the declared budgets")
	}
	b.WriteString(" (")
	var fit float64
	switch r.Growth {
	case PerKey:
		fmt.Fprintf(b, "%s %s/min, objects %s/min", name, signedBytes(live.PerMinute()), signedCount(objs.PerMinute()))
		fit = live.Fit
	case PinnedBuffers:
		bpo := r.BytesPerObject
		if beyond {
			bpo = r.restBPO
		}
		fmt.Fprintf(b, "%s %s/min, bytes/object %s/min, objects %s/min", name, signedBytes(live.PerMinute()),
			signedCount(bpo.PerMinute()), signedCount(objs.PerMinute()))
		fit = live.Fit
	case Retained:
		fmt.Fprintf(b, "retained %s/min, live %s/min", signedBytes(r.Retained.PerMinute()), signedBytes(r.Live.PerMinute()))
		fit = r.Retained.Fit
	case GoroutineLeak:
		fmt.Fprintf(b, "goroutines %s/min", signedCount(r.Goroutines.PerMinute()))
		fit = r.Goroutines.Fit
	case OffHeap:
		fmt.Fprintf(b, "RSS %s/min, retained %s/min", signedBytes(r.RSS.PerMinute()), signedBytes(r.Retained.PerMinute()))
		fit = r.RSS.Fit
	}
	fmt.Fprintf(b, ", fit %.2f)", fit)
	if r.retainedBeside && (r.Growth == PerKey || r.Growth == PinnedBuffers) {
		fmt.Fprintf(b, "; retained memory rises too, by more than the live heap explains (%s/min)",
			signedBytes(r.Retained.PerMinute()))
	}
	if r.filling() > 0 {
		b.WriteString("; also filling declared budgets: ")
		r.writeFilling(b)
	}
}

// filling returns the number of budgets in state BudgetFilling.
func (r Report) filling() int {
	n := 0
	for _, x := range r.Budgets {
		if x.State == BudgetFilling {
			n++
		}
	}
	return n
}

// writeFilling writes the filling budgets; when none is filling steadily
// on its own, those that grew over the window; when none did, all of them.
func (r Report) writeFilling(b *strings.Builder) {
	none := r.filling() == 0
	sep := ""
	for _, x := range r.Budgets {
		grew := x.BytesTrend.Growth() > 0 || x.EntriesTrend.Growth() > 0
		if x.State == BudgetFilling || none && grew {
			b.WriteString(sep)
			writeBudget(b, x)
			sep = ", "
		}
	}
	if sep == "" { // the sum rose, no one structure did: name them all
		for i, x := range r.Budgets {
			if i > 0 {
				b.WriteString(", ")
			}
			writeBudget(b, x)
		}
	}
}

func (r Report) writeAtLimit(b *strings.Builder) {
	sep := "; at budget: "
	for _, x := range r.Budgets {
		if x.State == BudgetAtLimit {
			b.WriteString(sep)
			writeBudget(b, x)
			b.WriteString(", refusing ")
			b.WriteString(formatRate(x.RefusedPerSecond))
			sep = ", "
		}
	}
}

// unbounded returns the name of a tracked structure without a limit.
func (r Report) unbounded() string {
	for _, x := range r.Budgets {
		if _, ok := x.ceiling(); !ok {
			return x.Name
		}
	}
	return ""
}

// writeBudget writes "interner 6.1 of 8.0 MiB (76%)" or "paths 9,800 of
// 10,000 (98%)": the side nearer its limit, or the bytes held when there is
// no limit. A structure full by entries whose bytes still have room gets its
// bytes too ("paths 10,000 of 10,000 (100%), 5.5 of 6.3 MiB"): it can still
// grow by what its entries hold.
func writeBudget(b *strings.Builder, x BudgetReport) {
	b.WriteString(x.Name)
	b.WriteByte(' ')
	fb, fe := -1.0, -1.0
	if x.LimitBytes > 0 {
		fb = float64(x.Bytes) / float64(x.LimitBytes)
	}
	if x.LimitEntries > 0 {
		fe = float64(x.Entries) / float64(x.LimitEntries)
	}
	switch {
	case fb < 0 && fe < 0:
		b.WriteString(formatBytes(float64(x.Bytes)))
		if x.Entries > 0 {
			fmt.Fprintf(b, ", %s entries", groupDigits(x.Entries))
		}
		b.WriteString(" (no limit)")
	case fb >= fe:
		fmt.Fprintf(b, "%s (%.0f%%)", formatBytesOf(float64(x.Bytes), float64(x.LimitBytes)), 100*fb)
	default:
		fmt.Fprintf(b, "%s of %s (%.0f%%)", groupDigits(x.Entries), groupDigits(x.LimitEntries), 100*fe)
		if fb >= 0 && fe >= 1-budgetMargin && fb < 1-budgetMargin {
			b.WriteString(", ")
			b.WriteString(formatBytesOf(float64(x.Bytes), float64(x.LimitBytes)))
		}
	}
}

// Summary returns the newest sample and the trend in one line, the line a
// daemon logs every few seconds instead of printing runtime.MemStats:
//
//	live 12.3 MiB, objects 45.1k, 286 B/object, retained 30.2 MiB, RSS 35.0 MiB, goroutines 12, GCs 1234; flat over 1m0s, ...
//
// Before the first GC the live heap is not known and the line says
// "live n/a (no GC yet)".
//
// When structures are tracked, the sum of their bytes follows the GC count
// ("tracked 6.1 MiB in 2 budgets"), and the trend names them as String
// does.
func (r Report) Summary() string {
	s := r.Last
	if s.Time.IsZero() && s.GCCycles == 0 && s.Total == 0 {
		return "no samples yet"
	}
	rss := "n/a"
	if s.RSSKnown {
		rss = formatBytes(float64(s.RSS))
	}
	// The live heap is measured when a collection ends: before the first
	// one there is no figure, and 0 B would be a lie.
	live := "n/a (no GC yet)"
	if s.GCCycles > 0 {
		live = formatBytes(float64(s.LiveBytes))
	}
	tracked := ""
	if len(r.Budgets) > 0 {
		var sum int64
		for _, x := range r.Budgets {
			sum += max(x.Bytes, 0)
		}
		plural := "s"
		if len(r.Budgets) == 1 {
			plural = ""
		}
		tracked = fmt.Sprintf(", tracked %s in %d budget%s", formatBytes(float64(sum)), len(r.Budgets), plural)
	}
	return fmt.Sprintf("live %s, objects %s, %.0f B/object, retained %s, RSS %s, goroutines %d, GCs %d%s; %s",
		live, formatCount(float64(s.Objects)), s.BytesPerObject(),
		formatBytes(float64(s.Retained())), rss, s.Goroutines, s.GCCycles, tracked, r)
}
