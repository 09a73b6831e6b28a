//go:build !amd64 || purego

package ingest

// quoteMasksVariants lists no vector version: there is none here.
func quoteMasksVariants() []quoteMasksVariant { return nil }
