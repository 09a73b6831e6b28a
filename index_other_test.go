//go:build !amd64 || purego

package ingest

func indexEitherVariants() []indexEitherVariant {
	return []indexEitherVariant{{"indexEither", indexEither}, {"indexEitherGeneric", indexEitherGeneric}}
}
