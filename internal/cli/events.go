package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/crashlog"
	"github.com/bugcheck/bugcheck/evtx"
)

// eventsFile is what the events command says about one input log.
type eventsFile struct {
	File     string   `json:"file"`
	Events   int      `json:"events"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error,omitempty"`
}

// eventsCrash is a crash with the hardware verdict, for JSON.
type eventsCrash struct {
	*crashlog.Crash
	Name     string           `json:"name,omitempty"`
	Hardware crashlog.Verdict `json:"hardware"`
}

func eventsCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON, all bool
	c := &cobra.Command{
		Use:   "events FILE.evtx...",
		Short: "Crash evidence from Windows System event logs: boots, bug checks, dumps, hardware errors, driver changes",
		Long: `events reads Windows System event logs (C:\Windows\System32\winevt\Logs\System.evtx, or exported
.evtx files) on any operating system and prints the timeline of boots, clean and unexpected
shutdowns and crashes: the bug check code and parameters, the dump file and report id (or why no
dump was written), with the hardware (WHEA) and storage errors and the driver installations that
came before each crash, and whether the evidence points at hardware.

Several logs (a System log and its archives) are merged into one timeline. Damaged chunks and
records are skipped with a warning naming the file and offset. With --json the output is one
object: files, timeline and crashes.`,
		Example: `  bugcheck events System.evtx
  bugcheck events --json System.evtx Archive-System-2024-01-01.evtx`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var events []crashlog.Event
			var files []eventsFile
			failed := 0
			for _, p := range args {
				evs, warns, err := crashlog.ReadFile(p)
				ef := eventsFile{File: filepath.Base(p), Events: len(evs), Warnings: []string{}}
				for _, w := range warns {
					ef.Warnings = append(ef.Warnings, w.Error())
					fmt.Fprintf(stderr, "bugcheck: warning: %s\n", w)
				}
				if err != nil {
					ef.Error = trimEvtxErr(err).Error()
					fmt.Fprintf(stderr, "bugcheck: %s: %v\n", p, trimEvtxErr(err))
					failed++
				}
				files = append(files, ef)
				events = append(events, evs...)
			}
			tl := crashlog.Build(events, crashlog.Options{})
			crashes := make([]eventsCrash, len(tl.Crashes))
			for i, c := range tl.Crashes {
				crashes[i] = eventsCrash{Crash: c, Hardware: crashlog.HardwareVerdict(c, tl.Crashes)}
				if c.BugCheck {
					crashes[i].Name = bugcode.Name(c.Code)
				}
			}
			var err error
			if asJSON {
				entries := tl.Entries
				if !all {
					entries = shownEntries(tl.Entries)
				}
				err = writeJSON(stdout, struct {
					Files    []eventsFile     `json:"files"`
					Timeline []crashlog.Entry `json:"timeline"`
					Crashes  []eventsCrash    `json:"crashes"`
				}{files, entries, crashes})
			} else {
				err = writeEvents(stdout, files, tl, crashes, all)
			}
			if err != nil {
				return err
			}
			if failed > 0 {
				return failedError{failed}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	c.Flags().BoolVar(&all, "all", false, "also list daily uptime reports and user-mode service installations")
	return c
}

// trimEvtxErr avoids repeating the file name when the error already names it.
func trimEvtxErr(err error) error {
	if fe, ok := err.(*evtx.FormatError); ok {
		return fmt.Errorf("offset %#x: %s", fe.Offset, fe.Msg)
	}
	return err
}

// shownEntries drops the routine entries (uptime, user-mode services).
func shownEntries(in []crashlog.Entry) []crashlog.Entry {
	out := []crashlog.Entry{}
	for _, e := range in {
		if e.Kind != crashlog.KindUptime && e.Kind != crashlog.KindService {
			out = append(out, e)
		}
	}
	return out
}

const stamp = "2006-01-02 15:04:05"

func utc(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format(stamp)
}

func writeEvents(w io.Writer, files []eventsFile, tl *crashlog.Timeline, crashes []eventsCrash, all bool) error {
	for _, f := range files {
		if f.Error != "" {
			continue
		}
		fmt.Fprintf(w, "%s: %d events", f.File, f.Events)
		if len(f.Warnings) > 0 {
			fmt.Fprintf(w, ", %d damaged chunk(s) or record(s) skipped", len(f.Warnings))
		}
		fmt.Fprintln(w)
	}
	if tl.Events > 0 {
		fmt.Fprintf(w, "Events from %s to %s UTC\n", utc(tl.First), utc(tl.Last))
	}

	entries := tl.Entries
	if !all {
		entries = shownEntries(entries)
	}
	fmt.Fprintln(w, "\nTimeline (UTC):")
	if len(entries) == 0 {
		fmt.Fprintln(w, "  (no boots, crashes, hardware errors or driver changes in the log)")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range entries {
		kind := string(e.Kind)
		if e.Kind == crashlog.KindCrash {
			kind = "CRASH"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s  [%s]\n", utc(e.Time), kind, e.Summary, e.Event)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nCrashes: %d\n", len(crashes))
	for i, c := range crashes {
		fmt.Fprintf(w, "\n%d. %s UTC  ", i+1, utc(c.Time))
		switch {
		case c.BugCheck:
			name := c.Name
			if name == "" {
				name = "(unknown code)"
			}
			fmt.Fprintf(w, "bug check 0x%08X %s\n", c.Code, name)
			fmt.Fprintf(w, "   parameters: %#x, %#x, %#x, %#x\n", c.Params[0], c.Params[1], c.Params[2], c.Params[3])
		case c.PowerLoss:
			fmt.Fprintln(w, "stopped without a bug check (Kernel-Power 41, code 0)")
			fmt.Fprintln(w, "   power loss, a reset button or power button held down, or a hang the user ended by force")
		default:
			fmt.Fprintln(w, "unexpected shutdown, no bug check recorded")
		}
		switch {
		case c.NoDump:
			fmt.Fprintf(w, "   no dump written: %s\n", c.NoDumpReason)
		case c.DumpPath != "":
			fmt.Fprintf(w, "   dump: %s", c.DumpPath)
			if c.ReportID != "" {
				fmt.Fprintf(w, " (report id %s)", c.ReportID)
			}
			fmt.Fprintln(w)
		case c.DumpWritten:
			fmt.Fprintln(w, "   dump written (volmgr 162)")
		}
		if c.Note != "" {
			fmt.Fprintf(w, "   note: %s\n", c.Note)
		}
		fmt.Fprintf(w, "   last sign of life %s, up again %s\n", utc(c.LastAlive), utc(c.Reboot))
		refs := make([]string, len(c.Evidence))
		for j, r := range c.Evidence {
			refs[j] = r.String()
		}
		fmt.Fprintf(w, "   evidence: %s\n", strings.Join(refs, "; "))
		list := func(title string, es []crashlog.Entry) {
			if len(es) == 0 {
				return
			}
			fmt.Fprintf(w, "   %s:\n", title)
			for _, e := range es {
				fmt.Fprintf(w, "     %s  %s (%s)\n", utc(e.Time), e.Summary, e.Event)
			}
		}
		list("hardware errors", c.HardwareErrors)
		list("storage errors in the day before", c.StorageErrors)
		list("dump creation", c.DumpEvents)
		list("drivers installed in the week before", c.DriverChanges)
		list("other errors in the day before", c.Errors)
		v := c.Hardware
		switch {
		case v.Suspect:
			fmt.Fprintf(w, "   hardware suspected (%s confidence):\n", v.Confidence)
		case len(v.Reasons) > 0:
			fmt.Fprintln(w, "   hardware: weak signs only:")
		default:
			fmt.Fprintln(w, "   hardware: no sign of a hardware fault in the log")
		}
		for _, r := range v.Reasons {
			fmt.Fprintf(w, "     - %s\n", r)
		}
	}
	return nil
}
