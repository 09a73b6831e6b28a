//go:build amd64 && !purego

package ingest

// quoteMasksVariants lists the vector versions of quoteMasks this CPU can
// run.
func quoteMasksVariants() []quoteMasksVariant {
	var vs []quoteMasksVariant
	if hasAVX2 {
		vs = append(vs, quoteMasksVariant{"quoteMasksAVX2", quoteMasksAVX2, 64})
	}
	if hasAVX512 {
		vs = append(vs, quoteMasksVariant{"quoteMasksAVX512", quoteMasksAVX512, 0})
	}
	return vs
}
