//go:build !amd64

package ingest

func indexEitherVariants() []indexEitherVariant {
	return []indexEitherVariant{{"indexEither", indexEither}, {"indexEitherGeneric", indexEitherGeneric}}
}

func quoteMasksVariants() []quoteMasksVariant { return nil }
