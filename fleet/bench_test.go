package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/fleet/fleettest"
)

// BenchmarkRun10k analyses 10,000 generated triage dumps — the fleettest
// mix of five crash kinds on ten machines, with zipped, gzipped, copied
// and damaged files — with the default number of workers, streaming the
// results as `bugcheck analyze` does. Writing the dumps is not timed.
func BenchmarkRun10k(b *testing.B) {
	dir := b.TempDir()
	want, err := fleettest.Generate(dir, 10000)
	if err != nil {
		b.Fatal(err)
	}
	cpu := time.Duration(0)
	for b.Loop() {
		start := cpuTime()
		st, err := fleet.Run(context.Background(), []string{dir}, fleet.Options{}, func(r *fleet.Result) error { return nil })
		if err != nil || st.Inputs != want.Inputs || st.Analysed != want.Analysed {
			b.Fatalf("%v: %+v", err, st)
		}
		cpu += cpuTime() - start
	}
	b.ReportMetric(float64(want.Inputs)*float64(b.N)/b.Elapsed().Seconds(), "dumps/s")
	// CPU seconds tell the cost apart from the machine's load.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
