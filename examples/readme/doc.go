// Package readme holds the Go blocks of the repository's README.md, each
// between a "// readme:NAME" line and a "// readme:end" line, so that CI
// compiles them (and runs the ones in Examples, checking their output),
// and TestREADME checks that the README quotes each one verbatim, and
// nothing else.
package readme
