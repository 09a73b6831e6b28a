//go:build !purego

package ingest

// puregoBuild: the purego tag is not set (see purego_on_test.go).
const puregoBuild = false
