package main

import (
	"flag"
	"fmt"

	"github.com/flatheap/ingest"
)

// formatFlags are the flags that choose the access-log format, shared by
// the commands that parse.
type formatFlags struct {
	name *string
}

func addFormatFlags(fs *flag.FlagSet) *formatFlags {
	return &formatFlags{
		name: fs.String("format", ingest.FormatCombined.Name(), "access-log `format`: combined or common"),
	}
}

// format returns the format the flags select.
func (f *formatFlags) format() (*ingest.Format, error) {
	format, err := ingest.FormatByName(*f.name)
	if err != nil {
		return nil, fmt.Errorf("unknown format %q: want combined or common", *f.name)
	}
	return format, nil
}
