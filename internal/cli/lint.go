package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/lint"
	"github.com/bugcheck/bugcheck/lint/csrc"
)

func lintCmd(stdout, stderr io.Writer) *cobra.Command {
	var format, failOn string
	c := &cobra.Command{
		Use:   "lint FILE|DIR...",
		Short: "Review driver C sources for the defects that cause blue screens",
		Long: `lint parses Windows driver sources (*.c, *.cpp, *.h; directories recursively) without the WDK
headers and reports the defects that end in bug checks: deprecated or unchecked pool allocations,
leaks, default or malformed pool tags, paged code or paged pool at DISPATCH_LEVEL, use after free,
double free, spin locks left held, sizeof of a pointer, unprobed user pointers and a saved
RegistryPath. Each finding gives the rule, the bug checks it leads to and the fix.

Exit status: 0 when no finding reaches --fail-on, 1 when one does (or a file could not be read),
2 for a usage error.`,
		Example: `  bugcheck lint driver/
  bugcheck lint --format sarif --fail-on error src/*.c > lint.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			threshold, err := lint.ParseSeverity(failOn)
			if err != nil {
				return err
			}
			switch format {
			case "text", "json", "sarif":
			default:
				return fmt.Errorf("unknown --format %q (text, json or sarif)", format)
			}
			l, err := lint.New()
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
	c.Flags().StringVar(&failOn, "fail-on", "warning", "exit 1 when a finding has this severity or higher: info, warning or error")
	return c
}
