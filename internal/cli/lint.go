package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/lint"
	"github.com/bugcheck/bugcheck/lint/csrc"
)

func lintCmd(stdout, stderr io.Writer) *cobra.Command {
	var format, failOn, parser string
	var listRules bool
	c := &cobra.Command{
		Use:   "lint FILE|DIR...",
		Short: "Review driver C sources for the defects that cause blue screens",
		Long: `lint parses Windows driver sources (*.c, *.cpp, *.h; directories recursively) without the WDK
headers and reports the defects that end in bug checks: deprecated or unchecked pool allocations,
leaks, default or malformed pool tags, paged code or paged pool at DISPATCH_LEVEL, use after free,
double free, spin locks left held, IRQLs not saved or restored, sizeof of a pointer, fixed-size
buffers indexed or filled with an unchecked length, unprobed user pointers, a saved RegistryPath,
UserMode waits on stack events, pending IRPs returned with another status, dropped IoCallDriver
statuses, unexamined results, requests and IRPs used after completion, reference counts read after
the release, IRQL changes without annotations and KMDF framework misuse. Each finding gives the
rule, the bug checks it leads to and the fix. --rules lists the rules; 'bugcheck explain BCL040'
explains one.

To tie findings to a crash, give the driver's sources to analyze: bugcheck analyze --source DIR DUMP.

Exit status: 0 when no finding reaches --fail-on, 1 when one does (or a file could not be read),
2 for a usage error.`,
		Example: `  bugcheck lint driver/
  bugcheck lint --format sarif --fail-on error src/*.c > lint.sarif`,
		Args: func(cmd *cobra.Command, args []string) error {
			if listRules {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if listRules {
				return writeRules(stdout, format)
			}
			threshold, err := lint.ParseSeverity(failOn)
			if err != nil {
				return err
			}
			switch format {
			case "text", "json", "sarif":
			default:
				return fmt.Errorf("unknown --format %q (text, json or sarif)", format)
			}
			switch parser {
			case csrc.FrontEndGo, csrc.FrontEndTreeSitter:
			default:
				return fmt.Errorf("unknown --parser %q (go or tree-sitter)", parser)
			}
			l, err := lint.NewWith(parser)
			if errors.Is(err, csrc.ErrNoFrontEnd) {
				fmt.Fprintf(stderr, "bugcheck: lint: %v\n", err)
				return failedError{len(args)}
			} else if err != nil {
				return err
			}
			defer l.Close()
			files, err := lint.Expand(args)
			if err != nil {
				fmt.Fprintf(stderr, "bugcheck: lint: %v\n", err)
				return failedError{1}
			}
			results := l.Files(files)
			failed, hits := 0, 0
			for _, r := range results {
				if r.Err != "" {
					fmt.Fprintf(stderr, "bugcheck: lint: %s\n", r.Err)
					failed++
				}
				for _, f := range r.Findings {
					if f.Severity >= threshold {
						hits++
					}
				}
			}
			switch format {
			case "json":
				err = lint.JSON(stdout, results)
			case "sarif":
				err = lint.SARIF(stdout, results, Version)
			default:
				err = lint.Text(stdout, results)
			}
			if err != nil {
				return err
			}
			if failed > 0 || hits > 0 {
				return failedError{failed + hits}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or sarif (SARIF 2.1.0)")
	c.Flags().BoolVar(&listRules, "rules", false, "list the rules (text, or --format json) instead of linting")
	c.Flags().StringVar(&parser, "parser", csrc.DefaultFrontEnd, "C front end: go (built in) or tree-sitter (cgo builds only)")
	c.Flags().StringVar(&failOn, "fail-on", "warning", "exit 1 when a finding has this severity or higher: info, warning or error")
	return c
}

// reviewSource lints the driver sources named by analyze --source and
// returns their findings for the analysis to rank against the crash,
// with the default (pure-Go) C front end.
func reviewSource(paths []string, stderr io.Writer) ([]analyze.SourceFinding, error) {
	l, err := lint.New()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	files, err := lint.Expand(paths)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("--source %s: no C sources (*.c, *.cpp, *.h) found", strings.Join(paths, ", "))
	}
	out := []analyze.SourceFinding{}
	for _, r := range l.Files(files) {
		if r.Err != "" {
			fmt.Fprintf(stderr, "bugcheck: --source: %s\n", r.Err)
		}
		for _, f := range r.Findings {
			codes := make([]uint32, 0, len(f.BugChecks))
			for _, b := range f.BugChecks {
				codes = append(codes, b.Code)
			}
			out = append(out, analyze.SourceFinding{File: f.Path, Line: f.Line, Column: f.Col, Function: f.Function,
				Rule: f.Rule, Name: f.Name, Severity: f.Level, Defect: lint.DefectOf(f.Rule), Message: f.Message,
				Fix: f.Fix, BugChecks: analyze.SourceBugChecks(codes)})
		}
	}
	return out, nil
}

// writeRules lists every lint rule: ID, severity, name and the bug checks
// it leads to, or their full descriptions in JSON.
func writeRules(w io.Writer, format string) error {
	rules := lint.Rules()
	switch format {
	case "json":
		docs := make([]lint.RuleDoc, 0, len(rules))
		for _, r := range rules {
			docs = append(docs, r.Doc())
		}
		return writeJSON(w, docs)
	case "text":
	default:
		return fmt.Errorf("--rules writes text or json, not %q", format)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tNAME\tLEADS TO")
	for _, r := range rules {
		codes := make([]string, 0, len(r.BugChecks))
		for _, c := range r.BugChecks {
			codes = append(codes, fmt.Sprintf("0x%X", c))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Name, strings.Join(codes, " "))
	}
	return tw.Flush()
}
