package fleet_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/sample"
)

// collect runs fleet.Run and keeps every result.
func collect(t *testing.T, args []string, opt fleet.Options) ([]*fleet.Result, fleet.Stats) {
	t.Helper()
	var out []*fleet.Result
	st, err := fleet.Run(context.Background(), args, opt, func(r *fleet.Result) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

func TestRunFleet(t *testing.T) {
	dir := t.TempDir()
	want, err := fleettest.Generate(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	if want.Zipped == 0 || want.Gzipped == 0 || want.Cabbed == 0 || want.Failed == 0 || want.Duplicates == 0 {
		t.Fatalf("generator made no variety: %+v", want)
	}
	var first []*fleet.Result
	for _, jobs := range []int{1, 4} {
		res, st := collect(t, []string{dir}, fleet.Options{Jobs: jobs})
		if st.Inputs != want.Inputs || st.Analysed != want.Analysed || st.Failed != want.Failed || st.Duplicates != want.Duplicates {
			t.Errorf("jobs %d: stats %+v, want inputs %d analysed %d failed %d duplicates %d",
				jobs, st, want.Inputs, want.Analysed, want.Failed, want.Duplicates)
		}
		g := fleet.NewGrouper(fleet.Filter{})
		for i, r := range res {
			if r.Seq != i {
				t.Fatalf("result %d has sequence %d: not in input order", i, r.Seq)
			}
			switch r.Status {
			case fleet.StatusOK:
				if r.Report == nil || r.Err != nil || len(r.SHA256) != 64 {
					t.Errorf("%s: ok without report or digest: %+v", r.Name, r)
				}
			case fleet.StatusFailed:
				if !want.Failures[r.Name] || r.Err == nil {
					t.Errorf("%s failed unexpectedly: %v", r.Name, r.Err)
				}
			case fleet.StatusDuplicate:
				if !want.Dups[r.Name] || !strings.Contains(r.DuplicateOf, string(filepath.Separator)+"copies"+string(filepath.Separator)) || r.Report != nil {
					t.Errorf("%s: duplicate of %q", r.Name, r.DuplicateOf)
				}
			}
			g.Add(r)
		}
		buckets := g.Buckets()
		if len(buckets) != len(want.Buckets) {
			t.Errorf("jobs %d: %d buckets, want %d", jobs, len(buckets), len(want.Buckets))
		}
		for _, b := range buckets {
			if b.Count != want.Buckets[b.ID] {
				t.Errorf("bucket %s: %d crashes, want %d", b.ID, b.Count, want.Buckets[b.ID])
			}
			var machines []string
			for m := range want.Machines[b.ID] {
				machines = append(machines, m)
			}
			slices.Sort(machines)
			if !slices.Equal(b.Machines, machines) {
				t.Errorf("bucket %s: machines %v, want %v", b.ID, b.Machines, machines)
			}
		}
		if buckets[0].ID != fleettest.Kinds[0].Bucket || buckets[0].Drivers[0].Name != sample.DriverName ||
			buckets[0].Versions[0].Name != "acmefilt.sys timestamp 0x65a1c3e0" {
			t.Errorf("top bucket %+v", buckets[0])
		}
		if first == nil {
			first = res
			continue
		}
		for i := range res {
			if res[i].Name != first[i].Name || res[i].Status != first[i].Status || res[i].DuplicateOf != first[i].DuplicateOf {
				t.Fatalf("result %d differs between 1 and 4 jobs: %+v vs %+v", i, res[i], first[i])
			}
		}
	}
}
