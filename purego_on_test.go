//go:build purego

package ingest

// puregoBuild: the purego tag is set, and the standard library's crypto
// runs its portable code too, which may allocate where its assembly does
// not.
const puregoBuild = true
