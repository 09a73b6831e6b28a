// Command ingest parses HTTP access-log lines, serves per-route metrics
// from the lines it receives over UDP, unix sockets, TCP or TLS or reads
// from files, and generates such traffic, with the ingest library.
//
// Usage:
//
//	ingest <command> [flags] [args]
//
// Run "ingest help" for the list of commands and "ingest <command> -h" for
// the flags of one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// A command is one subcommand. run gets the arguments after the command's
// name and returns the exit status: 0 for success, 1 when the command ran
// but found failures, 2 for usage and I/O errors.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order usage shows them. Adding one
// is one line here and one file beside this one.
var commands = []command{
	{"parse", "parse access-log lines from files or stdin into JSON, one object per line", runParse},
	{"send", "send generated access-log lines over UDP (load generator)", runSend},
	{"serve", "receive access lines (UDP, unix, TCP, TLS, files) and serve per-route metrics, per-path counts and pprof over HTTP", runServe},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches args (without the program name) to a command and returns
// the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "help":
		// "ingest help parse" is "ingest parse -h".
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		name, args = args[1], []string{args[1], "-h"}
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "ingest: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: ingest <command> [flags] [args]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"ingest <command> -h\" for a command's flags.\n")
}

// newFlagSet returns the flag set of the command name; -h prints usage
// and then the flags' defaults.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ingest "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. When it returns ok false, the command
// returns status: 0 after -h, which printed the usage, and 2 after a bad
// flag, which printed one line saying what is wrong.
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package would print the usage after an error too
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return 0, false
	}
	fmt.Fprintf(out, "%s: %v (%s -h for help)\n", fs.Name(), err, fs.Name())
	return 2, false
}

// usageFailer returns a function that prints one line, prefixed with the
// command's name, to fs's output and returns exit status 2.
func usageFailer(fs *flag.FlagSet) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(fs.Output(), fs.Name()+": "+format+"\n", a...)
		return 2
	}
}
