//go:build amd64 && !purego && !race

package ingest

import (
	"testing"

	"github.com/flatheap/ingest/internal/inlinecheck"
)

// TestInlining pins the inlining decisions that Parse's speed and the
// comments in the code rely on. It builds the package again with
// -gcflags=-m; the race detector and the purego tag would add nothing.
func TestInlining(t *testing.T) {
	r := inlinecheck.Build(t)
	// The helpers Parse calls for each field: a call would cost more than
	// most of them do.
	r.Inlined(t,
		"view", "dashless", "nilIfEmpty", "b2s",
		"(*Parser).fillMasks", "(*lineMasks).nextQuote", "(*lineMasks).nextQuery", "(*lineMasks).nextBracket", "nextBit",
		"(*Request).reset", "(*Request).setString",
		"status3", "endsRequest", "escaped", "hasSpace8", "isHTTPDigitVersion", "isHTTPVersion", "methodEnd",
		"parseByteCount", "sameTimeText", "digits2", "monthIndex",
		"(*op).at", "hasLit",
	)
	// The Interner's hit path.
	r.Inlined(t, "metaKey", "metaLen", "(*internTable).locate", "(*internSet).hit", "entryString", "stripeIndex")
	// The digit loops of the size fields, from internal/decimal.
	r.InlinedIn(t, "decimal.Digits", "decode_fields.go")
	r.InlinedIn(t, "decimal.Digits", "format_fused.go")
	r.InlinedIn(t, "decimal.Int64", "decode_fields.go")
	// Comments say these are not inlined: runCombinedHead repeats the
	// fused ops' code because they are too big; runOps stays apart from
	// parseCompiled; Interner.intern has set.find's loop written out;
	// internOdd keeps its buffer out of Intern's frame.
	r.NotInlined(t,
		"(*op).litView", "(*op).quoteView", "(*op).setView", "(*op).status", "(*op).bodyBytes", "(*op).timeLocal", "(*op).request",
		"(*Parser).runOps", "(*internSet).find", "(*internTable).internOdd",
	)
}
