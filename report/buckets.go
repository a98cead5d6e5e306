package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/fleet"
)

// Buckets is the result of `bugcheck buckets`: crashes grouped by bucket,
// by impact. Its JSON form is documented in docs/json-schema.md.
type Buckets struct {
	SchemaVersion int            `json:"schema_version"`
	Inputs        int            `json:"inputs"`
	Analysed      int            `json:"analysed"`
	Failed        int            `json:"failed"`
	Duplicates    int            `json:"duplicates"`
	FilteredOut   int            `json:"filtered_out"` // analysed crashes the filters left out
	Buckets       []fleet.Bucket `json:"buckets"`
	Days          []fleet.Day    `json:"crashes_per_day"`
}

// NewBuckets collects what a Grouper gathered over a run.
func NewBuckets(st fleet.Stats, g *fleet.Grouper) *Buckets {
	b := &Buckets{SchemaVersion: analyze.SchemaVersion, Inputs: st.Inputs, Analysed: st.Analysed, Failed: st.Failed,
		Duplicates: st.Duplicates, FilteredOut: g.Skipped(), Buckets: g.Buckets(), Days: g.Days()}
	if b.Buckets == nil {
		b.Buckets = []fleet.Bucket{}
	}
	if b.Days == nil {
		b.Days = []fleet.Day{}
	}
	return b
}

// Stats returns the run's counts.
func (b *Buckets) Stats() fleet.Stats {
	return fleet.Stats{Inputs: b.Inputs, Analysed: b.Analysed, Failed: b.Failed, Duplicates: b.Duplicates}
}

// WriteBuckets writes b in format: table, json, jsonl, csv, markdown or
// html. generated is the HTML page's "generated" note (may be empty).
func WriteBuckets(w io.Writer, format string, b *Buckets, generated string) error {
	switch format {
	case "table":
		return bucketsTable(w, b)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, x := range b.Buckets {
			if err := enc.Encode(x); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		return bucketsCSV(w, b)
	case "markdown", "md":
		return bucketsMarkdown(w, b)
	case "html":
		return WriteBucketsHTML(w, "", generated, b.Stats(), b.Buckets, b.Days)
	}
	return fmt.Errorf("unknown format %q (%s)", format, strings.Join(Formats(), ", "))
}

func seen(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func counts(cs []fleet.Count) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s (%d)", c.Name, c.Count))
	}
	return strings.Join(parts, ", ")
}

func bucketsTable(w io.Writer, b *Buckets) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Bucket\tCrashes\tMachines\tFirst Seen\tLast Seen\tBug Check\tTop Drivers\tTop Driver Versions")
	for _, x := range b.Buckets {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s %s\t%s\t%s\n", oneLine(x.ID), x.Count, len(x.Machines), seen(x.First), seen(x.Last),
			x.Code, x.Name, oneLine(or(counts(x.Drivers), "-")), oneLine(or(counts(x.Versions), "-")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d buckets; %s", len(b.Buckets), statsLine(b.Stats()))
	if err == nil && b.FilteredOut > 0 {
		_, err = fmt.Fprintf(w, "; %d left out by the filters", b.FilteredOut)
	}
	if err == nil {
		_, err = fmt.Fprintln(w)
	}
	return err
}

func bucketsCSV(w io.Writer, b *Buckets) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"bucket", "crashes", "machine_count", "machines", "first_seen", "last_seen", "bugcheck_code", "bugcheck_name",
		"top_drivers", "top_driver_versions", "example_dump", "summary"})
	for _, x := range b.Buckets {
		first, last := "", ""
		if !x.First.IsZero() {
			first, last = x.First.UTC().Format(time.RFC3339), x.Last.UTC().Format(time.RFC3339)
		}
		rec := []string{x.ID, strconv.Itoa(x.Count), strconv.Itoa(len(x.Machines)), strings.Join(x.Machines, "; "), first, last,
			x.Code, x.Name, counts(x.Drivers), counts(x.Versions), x.Example, x.Summary}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func bucketsMarkdown(w io.Writer, b *Buckets) error {
	var s strings.Builder
	s.WriteString("# Crash buckets\n\n| Bucket | Crashes | Machines | First seen | Last seen | Bug check | Top drivers | Top driver versions |\n|---|---|---|---|---|---|---|---|\n")
	for _, x := range b.Buckets {
		fmt.Fprintf(&s, "| `%s` | %d | %d | %s | %s | `%s` %s | %s | %s |\n", strings.ReplaceAll(oneLine(x.ID), "|", `\|`), x.Count, len(x.Machines),
			seen(x.First), seen(x.Last), x.Code, mdCell(x.Name), mdCell(counts(x.Drivers)), mdCell(counts(x.Versions)))
	}
	fmt.Fprintf(&s, "\n%d buckets; %s.\n", len(b.Buckets), statsLine(b.Stats()))
	_, err := io.WriteString(w, s.String())
	return err
}
