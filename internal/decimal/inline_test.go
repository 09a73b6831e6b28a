//go:build !race

package decimal

import (
	"testing"

	"github.com/flatheap/ingest/internal/inlinecheck"
)

// TestInlining checks that the decoders the parser calls for each line
// stay within the compiler's inlining budget.
func TestInlining(t *testing.T) {
	inlinecheck.Build(t).Inlined(t, "Digits", "Int64")
}
