package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/flatheap/ingest"
)

// formatFlags are the flags that choose the access-log format, shared by
// the commands that parse: --format names a built-in, --log-format and
// --apache-format compile one; at most one of the three may be given.
type formatFlags struct {
	fs                      *flag.FlagSet
	name, nginx, apacheText *string
}

func addFormatFlags(fs *flag.FlagSet) *formatFlags {
	return &formatFlags{
		fs:         fs,
		name:       fs.String("format", ingest.FormatCombined.Name(), "built-in access-log `format`: combined or common"),
		nginx:      fs.String("log-format", "", "nginx log_format `body`, compiled"),
		apacheText: fs.String("apache-format", "", "Apache LogFormat `string`, compiled"),
	}
}

// format returns the format the flags select, after fs.Parse. Its error
// is one line, naming the flag.
func (f *formatFlags) format() (*ingest.Format, error) {
	var set []string
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "format" || fl.Name == "log-format" || fl.Name == "apache-format" {
			set = append(set, "--"+fl.Name)
		}
	})
	if len(set) > 1 {
		return nil, fmt.Errorf("%s and %s cannot be used together", set[0], set[1])
	}
	var format *ingest.Format
	var err error
	switch {
	case len(set) == 1 && set[0] == "--log-format":
		format, err = ingest.CompileNginx(*f.nginx)
	case len(set) == 1 && set[0] == "--apache-format":
		format, err = ingest.CompileApache(*f.apacheText)
	default:
		if format, err = ingest.FormatByName(*f.name); err != nil {
			return nil, fmt.Errorf("unknown format %q: want combined or common", *f.name)
		}
	}
	if err != nil {
		return nil, errors.New(set[0] + ": " + err.Error())
	}
	return format, nil
}
