// Package cli implements the bugcheck command line. Main is the whole
// program with its streams and exit code injected, so tests run it in
// process.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/report"
	"github.com/bugcheck/bugcheck/symstore"
)

// Exit codes.
const (
	ExitOK     = 0 // every input was analysed
	ExitFailed = 1 // some input could not be analysed
	ExitUsage  = 2 // the command line was wrong
)

// Version is the program version; release builds set it with -ldflags.
var Version = "dev"

// failedError carries the exit code for inputs that failed; the errors were
// already printed.
type failedError struct{ n int }

func (e failedError) Error() string { return fmt.Sprintf("%d input(s) failed", e.n) }

// Main runs bugcheck with args (without the program name) and returns the
// exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	var fe failedError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &fe):
		return ExitFailed
	default:
		fmt.Fprintf(stderr, "bugcheck: %v\n", err)
		fmt.Fprintln(stderr, "Run 'bugcheck --help' for usage.")
		return ExitUsage
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "bugcheck",
		Short: "Explain Windows blue screens from their crash dumps",
		Long: `bugcheck reads Windows kernel crash dumps (C:\Windows\Minidump\*.dmp, MEMORY.DMP) on any
operating system and says what crashed, which driver is to blame, why, and what to do next.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(analyzeCmd(stdout, stderr), modulesCmd(stdout, stderr), headerCmd(stdout, stderr), explainCmd(stdout), lintCmd(stdout, stderr))
	root.AddCommand(bucketsCmd(stdout, stderr))
	root.AddCommand(eventsCmd(stdout, stderr))
	root.AddCommand(serveCmd(stdout, stderr), uploadCmd(stdout, stderr), reanalyzeCmd(stdout, stderr))
	root.AddCommand(readCmd(stdout, stderr), disasmCmd(stdout, stderr), psCmd(stdout, stderr), pteCmd(stdout, stderr))
	return root
}

// newStore builds the image and symbol store from --images and the symbol
// path, or returns nil when neither names anything.
func newStore(images []string, symPath string, offline bool) *symstore.Store {
	if len(images) == 0 && strings.TrimSpace(symPath) == "" {
		return nil
	}
	cache := ""
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "bugcheck", "symbols")
	}
	entries := symstore.ParsePath(symPath, cache)
	for _, d := range images {
		entries = append([]symstore.Entry{{Dir: d}}, entries...)
	}
	s := symstore.NewStore(entries)
	s.Offline = offline
	return s
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// eachDump opens every path and calls fn; it reports failures on stderr and
// returns failedError when any path failed.
func eachDump(paths []string, stderr io.Writer, fn func(*kdump.File) error) error {
	failed := 0
	for _, p := range paths {
		f, err := kdump.Open(p)
		if err == nil {
			err = fn(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "bugcheck: %s: %v\n", p, trimName(err, p))
			failed++
		}
	}
	if failed > 0 {
		return failedError{failed}
	}
	return nil
}

// trimName avoids repeating the file name when the error already names it.
func trimName(err error, _ string) error {
	var fe *kdump.FormatError
	if errors.As(err, &fe) {
		return fmt.Errorf("offset %#x: %s", fe.Offset, fe.Msg)
	}
	return err
}

func analyzeCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON, allModules, allStack bool
	var format, symPath string
	var offline bool
	var skip, images, eventLogs, sources []string
	var ff fleetFlags
	c := &cobra.Command{
		Use:   "analyze DUMP...",
		Short: "Analyse crash dumps: bug check, culprit driver, explanation, next steps",
		Long: `analyze reads each crash dump and reports the bug check and what its parameters mean, the
exception and registers, the faulting instruction and the memory it touched, the captured stack,
and the driver most probably to blame with the reason, followed by concrete next steps.

With --json the output is the documented JSON report (docs/json-schema.md): one object for one
dump, an array of rows each carrying its report for several.

With --source DIR (the culprit driver's C sources) the report of one dump also
lists the defects "bugcheck lint" finds in them, those most relevant to this crash first: a finding
in the faulting function, then the kinds of defect that cause this bug check.

Give it many dumps — several files, folders (searched recursively for .dmp, .zip, .cab and
.dmp.gz), glob patterns, .zip, .gz and .cab archives (read in place, never unpacked to disk; .cab
as Windows Error Reporting packs a crash) — and it analyses them in parallel (--jobs) and writes
one row per dump, like BlueScreenView: --format table (the default for many dumps), json, jsonl,
csv, markdown, or html (one self-contained page with a sortable table, a chart of crashes per day
and a section per bucket); --format text gives every full report. Identical files are analysed
once and listed as duplicates; a file that fails is listed with its error and the run goes on
(exit status 1 at the end).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "markdown", "md":
			case "json":
				asJSON = true
			case "table", "jsonl", "csv", "html":
			default:
				return fmt.Errorf("unknown --format %q (text, table, json, jsonl, csv, markdown or html)", format)
			}
			opt := analyze.Options{}
			store := newStore(images, symPath, offline)
			if store != nil {
				defer store.Close()
				opt.Images, opt.Symbols, opt.Versions = store, store, store
			}
			if len(skip) > 0 {
				opt.Skip = append(append([]string(nil), analyze.DefaultSkip...), skip...)
			}
			if many := !singleDump(args); many || (format != "text" && format != "markdown" && format != "md" && format != "json") {
				if len(eventLogs) > 0 {
					return fmt.Errorf("--events goes with the full reports of dump files (--format text, json or markdown), not with folders, archives or one-row-per-dump formats")
				}
				if len(sources) > 0 {
					return fmt.Errorf("--source goes with the full report of one dump (--format text, json or markdown), not with folders, archives or one-row-per-dump formats")
				}
				switch {
				case asJSON:
					format = "json"
				case many && !cmd.Flags().Changed("format"):
					format = "table"
				}
				return analyzeMany(args, format, ff, opt, report.TextOptions{AllModules: allModules, AllStack: allStack}, stdout, stderr)
			}
			if len(sources) > 0 {
				if len(args) > 1 {
					return fmt.Errorf("--source reviews the culprit driver's source for the report of one dump; give one dump")
				}
				found, err := reviewSource(sources, stderr)
				if err != nil {
					fmt.Fprintf(stderr, "bugcheck: %v\n", err)
					return failedError{1}
				}
				if len(found) == 0 {
					fmt.Fprintf(stderr, "bugcheck: --source: no findings in %s\n", strings.Join(sources, ", "))
				}
				opt.Source = found
			}
			var logs *logEvidence
			if len(eventLogs) > 0 {
				var err error
				if logs, err = readLogEvidence(eventLogs, args, stderr); err != nil {
					fmt.Fprintf(stderr, "bugcheck: %v\n", err)
					return failedError{1}
				}
			}
			var reports []*analyze.Report
			err := eachDump(args, stderr, func(f *kdump.File) error {
				prefetchStack(store, f, opt)
				o := opt
				if logs != nil {
					o.Events = logs.byPath[f.Name]
				}
				r := analyze.Analyze(f, o)
				if asJSON {
					reports = append(reports, r)
					return nil
				}
				if len(args) > 1 {
					fmt.Fprintln(stdout)
				}
				if format == "markdown" || format == "md" {
					return report.Markdown(stdout, r)
				}
				return report.Text(stdout, r, report.TextOptions{AllModules: allModules, AllStack: allStack})
			})
			if asJSON {
				var out any = reports
				if len(args) == 1 {
					if len(reports) == 0 {
						return err
					}
					out = reports[0]
				} else if reports == nil {
					out = []*analyze.Report{}
				}
				if e := writeJSON(stdout, out); e != nil {
					return e
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write the JSON report (same as --format json)")
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or markdown; or one row per dump: table (the default for many dumps), jsonl, csv, html")
	ff.add(c)
	c.Flags().BoolVar(&allModules, "all-modules", false, "list every loaded module in the text report")
	c.Flags().BoolVar(&allStack, "all-stack", false, "list stack values below the faulting frame too")
	c.Flags().StringVar(&symPath, "symbol-path", os.Getenv("_NT_SYMBOL_PATH"), "symbol path in _NT_SYMBOL_PATH syntax (srv*CACHE*URL;cache*DIR;DIR); defaults to $_NT_SYMBOL_PATH")
	c.Flags().BoolVar(&offline, "offline", false, "never download from symbol servers; use local directories and caches only")
	c.Flags().StringSliceVar(&images, "images", nil, "directories holding driver images and PDBs (plain, or a symbol-store tree: name.sys/TIMESTAMPSIZE/name.sys, name.pdb/GUIDAGE/name.pdb): images give unwind data for real frames, PDBs give function names; repeatable")
	c.Flags().StringSliceVar(&eventLogs, "events", nil, "System event logs (System.evtx) of the machine: match each dump to the crash the log recorded, list crashes that left no dump, and weigh hardware errors (WHEA) in the verdict; repeatable")
	c.Flags().StringSliceVar(&sources, "source", nil, "the culprit driver's C sources (files or directories): review them for the defects behind bug checks and list the findings most relevant to this crash in the report; repeatable")
	c.Flags().StringSliceVar(&skip, "skip", nil, "more module names never to blame while another module is on the stack (e.g. mydriverlib.sys; '*' wildcard)")
	return c
}

func modulesCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON, offline bool
	var images []string
	var symPath string
	c := &cobra.Command{
		Use:   "modules DUMP",
		Short: "List the loaded and unloaded modules of a dump (like WinDbg's lm)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDump(args, stderr, func(f *kdump.File) error {
				var versions analyze.VersionSource
				if store := newStore(images, symPath, offline); store != nil {
					defer store.Close()
					versions = store
				}
				mods, unloaded := analyze.ModuleList(f, versions)
				if asJSON {
					return writeJSON(stdout, struct {
						Modules  []analyze.Module   `json:"modules"`
						Unloaded []analyze.Unloaded `json:"unloaded_modules"`
					}{mods, unloaded})
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				if versions == nil {
					fmt.Fprintln(tw, "Base\tEnd\tSize\tTimestamp\tChecksum\tName\tPath")
				} else {
					fmt.Fprintln(tw, "Base\tEnd\tSize\tTimestamp\tChecksum\tName\tDescription\tCompany\tVersion\tPath")
				}
				for _, m := range mods {
					if versions == nil {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Base, m.End, m.Size, m.Timestamp, m.Checksum, m.Name, m.Path)
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Base, m.End, m.Size, m.Timestamp, m.Checksum, m.Name,
						or(m.Description, "-"), or(m.Company, "-"), or(m.FileVersion, "-"), m.Path)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(unloaded) > 0 {
					fmt.Fprintln(stdout, "\nUnloaded modules:")
					for _, u := range unloaded {
						fmt.Fprintf(stdout, "%s-%s  %s\n", u.Start, u.End, u.Name)
					}
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	c.Flags().StringSliceVar(&images, "images", nil, "directories holding driver images (plain or symbol-store trees): adds description, company and version columns")
	c.Flags().StringVar(&symPath, "symbol-path", os.Getenv("_NT_SYMBOL_PATH"), "symbol path in _NT_SYMBOL_PATH syntax, for the same columns")
	c.Flags().BoolVar(&offline, "offline", false, "never download from symbol servers")
	return c
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func headerCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "header DUMP",
		Short: "Show every field of the dump header (and the triage block of small dumps)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDump(args, stderr, func(f *kdump.File) error {
				return writeHeader(stdout, f, asJSON)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return c
}
