//go:build !race

package route

import (
	"testing"

	"github.com/flatheap/ingest/internal/inlinecheck"
)

// TestInlining checks what the comments in route.go say is not inlined:
// appendSegments does the fast cases of Templater.class itself, and
// skipLiterals and scanSegment keep their masks out of its frame.
func TestInlining(t *testing.T) {
	inlinecheck.Build(t).NotInlined(t, "(*Templater).class", "skipLiterals", "scanSegment")
}
