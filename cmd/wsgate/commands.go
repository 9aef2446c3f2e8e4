package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A command is one verb of the wsgate binary. Each has its own flag set,
// so its help lists its own flags and no other command's.
type command struct {
	name     string
	synopsis string // the usage line, after "wsgate "
	summary  string // its line in `wsgate help`
	about    string // what its help says after the usage line
	hidden   bool   // not listed by `wsgate help`
	// define registers the command's flags on fs and returns what runs
	// it once fs has parsed the arguments.
	define func(fs *flag.FlagSet) func(stdout io.Writer) error
	// raw commands parse their own arguments (bench); they are given
	// them untouched and report -h by returning flag.ErrHelp.
	raw func(args []string) error
}

// usageError is a command line that cannot be run: exit status 2, as the
// flag package's.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// commands lists every command, in the order `wsgate help` shows them.
func commands() []*command {
	return []*command{runCommand(), validateCommand(), asyncAPICommand(), healthcheckCommand(), versionCommand(), benchCommand(), hashKeyCommand(), connectionsCommand(), routesCommand(), helpCommand(), benchNATSCommand()}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "--h" }

// dispatch runs the command args name and returns the exit status: 0, 1
// when the command failed, 2 for a command line that cannot be run. The
// command is the first argument unless that is a flag: `wsgate --listen
// :9000` is `wsgate run --listen :9000`, and `wsgate --help` is `wsgate
// help`.
func dispatch(args []string, stdout, stderr io.Writer) int {
	name := "run"
	if len(args) > 0 {
		switch a := args[0]; {
		case isHelpFlag(a):
			name, args = "help", args[1:]
		case a != "" && a[0] != '-':
			name, args = a, args[1:]
		}
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "wsgate: unknown command %q\nRun 'wsgate help' for the list of commands.\n", name)
		return 2
	}
	return c.exec(args, stdout, stderr)
}

// exec parses args with the command's own flags and runs it. -h and --help
// print the command's help on stdout and exit 0, as the flag package does.
func (c *command) exec(args []string, stdout, stderr io.Writer) int {
	var err error
	if c.raw != nil {
		err = c.raw(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(stdout)
			return 0
		}
	} else {
		fs := c.flagSet()
		runf := c.define(fs)
		if err = fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			c.help(stdout)
			return 0
		} else if err != nil {
			err = usageError{err}
		} else {
			err = runf(stdout)
		}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		hint := "help " + c.name
		if c.name == "help" {
			hint = "help' for the list of commands, or 'wsgate help help"
		}
		fmt.Fprintf(stderr, "wsgate %s: %v\nRun 'wsgate %s' for usage.\n", c.name, ue.err, hint)
		return 2
	default:
		fmt.Fprintln(stderr, "wsgate:", err)
		return 1
	}
}

// flagSet is a flag set that reports, and prints nothing: exec says what
// went wrong, and help prints the command's help.
func (c *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("wsgate "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// help writes the command's usage line, description and flags.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: wsgate %s\n\n%s\n", c.synopsis, strings.TrimSpace(c.about))
	if c.define == nil {
		return
	}
	fs := c.flagSet()
	c.define(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(tw, "  --%s %s\t%s\n", f.Name, strings.ToUpper(arg), usage)
	})
	tw.Flush()
}

// noArgs is define for a command without flags or arguments.
func noArgs(run func(stdout io.Writer) error) func(fs *flag.FlagSet) func(io.Writer) error {
	return func(fs *flag.FlagSet) func(io.Writer) error {
		return func(stdout io.Writer) error {
			if fs.NArg() > 0 {
				return usagef("unexpected argument %q", fs.Arg(0))
			}
			return run(stdout)
		}
	}
}

func versionCommand() *command {
	return &command{
		name:     "version",
		synopsis: "version",
		summary:  "print the version",
		about:    "Prints the version of this wsgate binary.",
		define: noArgs(func(stdout io.Writer) error {
			fmt.Fprintln(stdout, "wsgate", version)
			return nil
		}),
	}
}

func helpCommand() *command {
	return &command{
		name:     "help",
		synopsis: "help [COMMAND]",
		summary:  "list the commands, or show one command's help",
		about: `Without an argument, lists the commands; 'wsgate help COMMAND' is
'wsgate COMMAND --help'.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			return func(stdout io.Writer) error {
				switch fs.NArg() {
				case 0:
					overview(stdout)
					return nil
				case 1:
					c := lookup(fs.Arg(0))
					if c == nil {
						return usagef("unknown command %q", fs.Arg(0))
					}
					if c.raw != nil {
						_ = c.raw([]string{"-h"}) // it lists its own flags
					}
					c.help(stdout)
					return nil
				}
				return usagef("one command at a time")
			}
		},
	}
}

// overview is `wsgate help`: every command in one line.
func overview(w io.Writer) {
	fmt.Fprint(w, `wsgate is a WebSocket API gateway on NATS: clients speak JSON, STOMP,
MQTT, WAMP or Socket.IO over WebSocket, and every message becomes a NATS
message.

Usage: wsgate [COMMAND] [flags]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
	}
	tw.Flush()
	fmt.Fprint(w, `
Without a command, wsgate runs the gateway ('wsgate run').
'wsgate help COMMAND' or 'wsgate COMMAND --help' shows a command's flags.
`)
}
