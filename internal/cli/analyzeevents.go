package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/crashlog"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/symstore"
)

// logEvidence matches dumps to the crashes System event logs recorded.
type logEvidence struct {
	byPath map[string]*analyze.EventEvidence
}

// readLogEvidence reads the logs and matches every dump in paths (by its
// header) to the crash the logs recorded for it.
func readLogEvidence(logs, paths []string, stderr io.Writer) (*logEvidence, error) {
	tl, warns, err := crashlog.ReadTimeline(logs, crashlog.Options{})
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		fmt.Fprintf(stderr, "bugcheck: warning: %v\n", w)
	}
	var dumps []crashlog.Dump
	for _, p := range paths {
		f, err := kdump.Open(p)
		if err != nil {
			continue // reported when the dump is analysed
		}
		dumps = append(dumps, crashlog.DumpFromHeader(p, f.Header))
		f.Close()
	}
	corr := crashlog.Correlate(tl, dumps, crashlog.CorrelateOptions{})
	le := &logEvidence{byPath: map[string]*analyze.EventEvidence{}}
	for _, m := range corr.Matches {
		le.byPath[filepath.Base(m.Dump.Path)] = crashlog.Evidence(m, tl.Crashes, corr.NoDump)
	}
	return le, nil
}

// prefetchStack downloads, in parallel, the images and PDBs of the modules
// a symbol-free first pass finds on the dump's stack, so the real analysis
// does not fetch them one by one as the unwinder reaches them.
func prefetchStack(store *symstore.Store, f *kdump.File, opt analyze.Options) {
	if store == nil || store.Offline || len(store.Servers) == 0 {
		return
	}
	opt.Images, opt.Symbols, opt.Versions = nil, nil, nil
	r := analyze.Analyze(f, opt)
	want := map[string]bool{strings.ToLower(r.Culprit.Module): true}
	for _, s := range r.Stack {
		want[strings.ToLower(s.Module)] = true
	}
	drivers, _, _ := analyze.Drivers(f)
	var mods []symstore.Module
	for _, d := range drivers {
		if want[strings.ToLower(d.BaseName())] {
			mods = append(mods, symstore.Module{Name: d.BaseName(), TimeDateStamp: d.Timestamp, SizeOfImage: d.Size})
		}
	}
	store.PrefetchModules(mods) // failures show up again, with their reason, where a symbol is missing
}
