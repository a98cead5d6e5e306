package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/bugcheck/bugcheck/fleet"
)

// The HTML report is one self-contained file: inline CSS and script, no
// fonts, images or requests, so it can be mailed or attached to a ticket
// and opened offline. html/template escapes every value taken from the
// dumps and the file system. Rows are written as they arrive; the summary,
// the chart and the bucket sections, known only at the end, come after the
// table in the file and are moved above it by CSS order.
var htmlTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"hexsort": hexSortKey,
	"time":    tableTime,
}).Parse(htmlTemplates))

const htmlTemplates = `{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
main{display:flex;flex-direction:column;padding:1rem 1.5rem;gap:.5rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1rem 0 .4rem}h3{font-size:1rem;margin:.8rem 0 .3rem}
table{border-collapse:collapse;background:#fff;font-size:12px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#eef1f5;position:sticky;top:0;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
tr.failed td{background:#fdecea}tr.duplicate td{color:#777}td.note{white-space:normal;min-width:24em;max-width:48em}
.scroll{overflow:auto;max-height:80vh}
code,.mono{font-family:ui-monospace,Consolas,monospace}
.bucket{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.2rem .8rem;margin:.4rem 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;margin:.3rem 0}dt{color:#555}dd{margin:0}
svg .bar{fill:#3f6fb5}svg .bar:hover{fill:#c0392b}svg text{font-size:11px;fill:#444}
.muted{color:#666}
</style>
</head>
<body>
<main>
<header style="order:0"><h1>{{.Title}}</h1>{{with .Generated}}<p class="muted">{{.}}</p>{{end}}</header>
{{end}}

{{define "crashtable"}}<section id="dumps" style="order:3">
<h2>Dumps</h2>
<p class="muted">Click a column heading to sort; click again to reverse.</p>
<div class="scroll">
<table id="crashes" class="sortable">
<thead><tr>{{range .}}<th data-type="{{.Type}}">{{.Head}}</th>{{end}}</tr></thead>
<tbody>
{{end}}

{{define "crashrow"}}<tr class="{{.Status}}"><td class="mono">{{.Dump}}</td>
{{- if eq .Status "ok"}}<td data-sort="{{.CrashTime}}">{{time .CrashTime}}</td><td>{{.BugCheckName}}</td><td class="mono" data-sort="{{hexsort .BugCheckCode}}">{{.BugCheckCode}}</td>
{{- range .Parameters}}<td class="mono" data-sort="{{hexsort .}}">{{.}}</td>{{end -}}
<td>{{.Driver}}</td><td class="mono">{{.Address}}</td><td>{{.Description}}</td><td>{{.DriverVersion}}</td><td>{{if .OSBuild}}{{.OSBuild}}{{end}}</td><td>{{if .Processors}}{{.Processors}}{{end}}</td><td class="mono"><a href="#{{.Anchor}}">{{.Bucket}}</a></td>
{{- else}}<td></td><td class="note">{{if eq .Status "failed"}}FAILED: {{.Error}}{{else}}duplicate of {{.DuplicateOf}}{{end}}</td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td>
{{- end}}<td>{{.Status}}</td></tr>
{{end}}

{{define "crashtableend"}}</tbody>
</table>
</div>
</section>
{{end}}

{{define "summary"}}<section id="summary" style="order:1">
<dl>
<dt>Inputs</dt><dd>{{.Stats.Inputs}}</dd>
<dt>Analysed</dt><dd>{{.Stats.Analysed}}</dd>
<dt>Failed</dt><dd>{{.Stats.Failed}}</dd>
<dt>Duplicates</dt><dd>{{.Stats.Duplicates}}</dd>
<dt>Buckets</dt><dd>{{len .Buckets}}</dd>
{{with .Span}}<dt>Crashes from</dt><dd>{{.}}</dd>{{end}}
</dl>
</section>
{{end}}

{{define "chart"}}<section id="chart" style="order:2">
<h2>Crashes per day</h2>
{{if .Bars}}<svg role="img" aria-label="Crashes per day" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
<line x1="40" y1="{{.Base}}" x2="{{.Width}}" y2="{{.Base}}" stroke="#999"/>
<text x="36" y="{{.Base}}" text-anchor="end">0</text><text x="36" y="14" text-anchor="end">{{.Max}}</text>
{{range .Bars}}<rect class="bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Date}}: {{.Count}} crashes</title></rect>
{{end}}<text x="40" y="{{.Label}}">{{.First}}</text><text x="{{.Width}}" y="{{.Label}}" text-anchor="end">{{.Last}}</text>
</svg>{{else}}<p class="muted">No crash times recorded.</p>{{end}}
</section>
{{end}}

{{define "buckets"}}<section id="buckets" style="order:4">
<h2>Buckets</h2>
{{range .}}<section class="bucket" id="{{.Anchor}}">
<h3><code>{{.ID}}</code></h3>
<p>{{.Summary}}</p>
<dl>
<dt>Crashes</dt><dd>{{.Count}}</dd>
<dt>Bug check</dt><dd><code>{{.Code}}</code> {{.Name}}</dd>
{{if not .First.IsZero}}<dt>First seen</dt><dd>{{.First.Format "2006-01-02 15:04:05"}}</dd><dt>Last seen</dt><dd>{{.Last.Format "2006-01-02 15:04:05"}}</dd>{{end}}
<dt>Machines ({{len .Machines}})</dt><dd>{{range $i, $m := .Machines}}{{if $i}}, {{end}}<span class="mono">{{$m}}</span>{{end}}</dd>
<dt>Drivers</dt><dd>{{range $i, $d := .Drivers}}{{if $i}}, {{end}}{{$d.Name}} ({{$d.Count}}){{else}}none{{end}}</dd>
<dt>Driver versions</dt><dd>{{range $i, $d := .Versions}}{{if $i}}, {{end}}{{$d.Name}} ({{$d.Count}}){{else}}unknown{{end}}</dd>
{{if .Dumps}}<dt>Dumps</dt><dd>{{range $i, $d := .Dumps}}{{if $i}}, {{end}}<span class="mono">{{$d}}</span>{{end}}{{if .More}} and {{.More}} more{{end}}</dd>{{end}}
</dl>
</section>
{{else}}<p class="muted">No crashes analysed.</p>
{{end}}</section>
{{end}}

{{define "buckettable"}}<section id="table" style="order:3">
<h2>Buckets by impact</h2>
<p class="muted">Click a column heading to sort; click again to reverse.</p>
<div class="scroll">
<table id="bucket-table" class="sortable">
<thead><tr><th data-type="text">Bucket</th><th data-type="num">Crashes</th><th data-type="num">Machines</th><th data-type="text">First Seen</th><th data-type="text">Last Seen</th><th data-type="text">Bug Check</th><th data-type="text">Top Driver</th><th data-type="text">Top Version</th></tr></thead>
<tbody>
{{range .}}<tr><td class="mono"><a href="#{{.Anchor}}">{{.ID}}</a></td><td>{{.Count}}</td><td>{{len .Machines}}</td><td>{{if not .First.IsZero}}{{.First.Format "2006-01-02 15:04:05"}}{{end}}</td><td>{{if not .Last.IsZero}}{{.Last.Format "2006-01-02 15:04:05"}}{{end}}</td><td>{{.Name}} ({{.Code}})</td><td>{{with .Drivers}}{{(index . 0).Name}}{{end}}</td><td>{{with .Versions}}{{(index . 0).Name}}{{end}}</td></tr>
{{end}}</tbody>
</table>
</div>
</section>
{{end}}

{{define "tail"}}</main>
<script>
(function () {
  function key(cell, type) {
    var v = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    if (type === "num") {
      var n = parseFloat(v);
      return isNaN(n) ? -Infinity : n;
    }
    return v.toLowerCase();
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var type = th.getAttribute("data-type");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], type), y = key(b.cells[col], type);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, th, col); } });
    });
  });
})();
</script>
</body>
</html>
{{end}}`

// hexSortKey pads a 0x-prefixed hex value so that text order is numeric
// order; other values sort as they are.
func hexSortKey(s string) string {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) > 16 {
		return s
	}
	return strings.Repeat("0", 16-len(h)) + h
}

type htmlColumn struct{ Head, Type string }

// htmlRow is a Row with the anchor of its bucket section.
type htmlRow struct {
	Row
	Anchor string
}

// htmlBucket is a bucket with its anchor and some of its dumps.
type htmlBucket struct {
	fleet.Bucket
	Anchor string
	Dumps  []string
	More   int
}

// maxBucketDumps is how many dump names a bucket section lists; the rest
// are counted, so that the writer's memory does not grow with the run.
const maxBucketDumps = 50

// htmlMany is the HTML crash report.
type htmlMany struct {
	w       io.Writer
	o       ManyOptions
	started bool
	g       *fleet.Grouper
	anchors map[string]string
	dumps   map[string][]string
	more    map[string]int
}

func newHTML(w io.Writer, o ManyOptions) *htmlMany {
	if o.Title == "" {
		o.Title = "bugcheck crash triage"
	}
	return &htmlMany{w: w, o: o, g: fleet.NewGrouper(fleet.Filter{}),
		anchors: map[string]string{}, dumps: map[string][]string{}, more: map[string]int{}}
}

func (h *htmlMany) start() error {
	if h.started {
		return nil
	}
	h.started = true
	if err := htmlTmpl.ExecuteTemplate(h.w, "head", h.o); err != nil {
		return err
	}
	cols := make([]htmlColumn, 0, len(crashColumns)+1)
	for _, c := range crashColumns {
		t := "text"
		if c.head == "OS Build" || c.head == "Processors" {
			t = "num"
		}
		cols = append(cols, htmlColumn{c.head, t})
	}
	cols = append(cols, htmlColumn{"Status", "text"})
	return htmlTmpl.ExecuteTemplate(h.w, "crashtable", cols)
}

func (h *htmlMany) anchor(bucket string) string {
	a, ok := h.anchors[bucket]
	if !ok {
		a = fmt.Sprintf("bucket-%d", len(h.anchors)+1)
		h.anchors[bucket] = a
	}
	return a
}

func (h *htmlMany) Write(res *fleet.Result) error {
	if err := h.start(); err != nil {
		return err
	}
	row := htmlRow{Row: NewRow(res)}
	if h.g.Add(res) {
		b := row.Bucket
		row.Anchor = h.anchor(b)
		if len(h.dumps[b]) < maxBucketDumps {
			h.dumps[b] = append(h.dumps[b], res.Name)
		} else {
			h.more[b]++
		}
	}
	return htmlTmpl.ExecuteTemplate(h.w, "crashrow", row)
}

func (h *htmlMany) Close(st fleet.Stats) error {
	if err := h.start(); err != nil {
		return err
	}
	if err := htmlTmpl.ExecuteTemplate(h.w, "crashtableend", nil); err != nil {
		return err
	}
	buckets := h.g.Buckets()
	hb := make([]htmlBucket, len(buckets))
	for i, b := range buckets {
		hb[i] = htmlBucket{Bucket: b, Anchor: h.anchor(b.ID), Dumps: h.dumps[b.ID], More: h.more[b.ID]}
	}
	return writeHTMLTail(h.w, st, hb, h.g.Days())
}

// writeHTMLTail writes the summary, the chart, the bucket sections and the
// script, and closes the page.
func writeHTMLTail(w io.Writer, st fleet.Stats, hb []htmlBucket, days []fleet.Day) error {
	span := ""
	if len(days) > 0 {
		span = days[0].Date + " to " + days[len(days)-1].Date
	}
	if err := htmlTmpl.ExecuteTemplate(w, "summary", struct {
		Stats   fleet.Stats
		Buckets []htmlBucket
		Span    string
	}{st, hb, span}); err != nil {
		return err
	}
	if err := htmlTmpl.ExecuteTemplate(w, "chart", newChart(days)); err != nil {
		return err
	}
	if err := htmlTmpl.ExecuteTemplate(w, "buckets", hb); err != nil {
		return err
	}
	return htmlTmpl.ExecuteTemplate(w, "tail", nil)
}

// chart is the crashes-per-day bar chart, laid out in SVG user units.
type chart struct {
	Width, Height, Base, Label int
	Max                        int
	First, Last                string
	Bars                       []bar
}

type bar struct {
	X, Y, W, H string
	Date       string
	Count      int
}

func newChart(days []fleet.Day) chart {
	c := chart{Width: 900, Height: 220, Base: 190, Label: 210}
	if len(days) == 0 {
		return c
	}
	for _, d := range days {
		c.Max = max(c.Max, d.Count)
	}
	c.First, c.Last = days[0].Date, days[len(days)-1].Date
	plotW := float64(c.Width - 40)
	bw := plotW / float64(len(days))
	plotH := float64(c.Base - 20)
	for i, d := range days {
		if d.Count == 0 {
			continue
		}
		h := plotH * float64(d.Count) / float64(c.Max)
		c.Bars = append(c.Bars, bar{
			X: ff(40 + bw*float64(i)), Y: ff(float64(c.Base) - h),
			W: ff(max(bw*0.85, 0.5)), H: ff(h), Date: d.Date, Count: d.Count,
		})
	}
	return c
}

func ff(v float64) string { return fmt.Sprintf("%.2f", v) }

// WriteBucketsHTML writes the buckets as a self-contained HTML page: the
// summary, the crashes-per-day chart, a sortable table of buckets and a
// section per bucket.
func WriteBucketsHTML(w io.Writer, title, generated string, st fleet.Stats, buckets []fleet.Bucket, days []fleet.Day) error {
	if title == "" {
		title = "bugcheck crash buckets"
	}
	if err := htmlTmpl.ExecuteTemplate(w, "head", ManyOptions{Title: title, Generated: generated}); err != nil {
		return err
	}
	hb := make([]htmlBucket, len(buckets))
	for i, b := range buckets {
		hb[i] = htmlBucket{Bucket: b, Anchor: fmt.Sprintf("bucket-%d", i+1)}
	}
	if err := htmlTmpl.ExecuteTemplate(w, "buckettable", hb); err != nil {
		return err
	}
	return writeHTMLTail(w, st, hb, days)
}
