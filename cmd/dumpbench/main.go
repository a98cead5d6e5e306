// Command dumpbench times reading a kernel memory dump's physical memory,
// so that other tools can be timed on the same file:
//
//	go run ./cmd/dumpbench [-create 32g] [-seq 4g] [-reads 1000000] DUMP
//
// With -create it first writes a sparse bitmap dump of a machine with that
// much memory at DUMP, every page captured and one page in 512 stamped
// with its number (dumpwriter.StampedBitmap); only the stamped pages take
// disk space. It then reports the time to open the dump, the process's
// peak resident memory, sequential physical read throughput in 1 MiB
// reads, and random 8-byte physical reads per second, both spread over all
// of memory (each read is a page fault: this measures the kernel) and
// within a 16 MiB working set (this measures the reader).
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/physmem"
)

const stride = 512 // pages between stamped pages in created dumps

func main() {
	create := flag.String("create", "", "first write a sparse bitmap dump of a machine with this much memory (e.g. 32g) at DUMP")
	seq := flag.String("seq", "4g", "bytes of physical memory to read sequentially")
	reads := flag.Int("reads", 1_000_000, "number of random 8-byte reads")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: dumpbench [-create SIZE] [-seq SIZE] [-reads N] DUMP")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	seqBytes, err := parseSize(*seq)
	if err != nil {
		fail(err)
	}
	if err := run(flag.Arg(0), *create, seqBytes, *reads); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dumpbench:", err)
	os.Exit(1)
}

// parseSize reads sizes such as 32g, 512m, 4096.
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	switch strings.ToLower(s[len(s)-min(len(s), 1):]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	case "t":
		mult = 1 << 40
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > (1<<64-1)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func run(path, create string, seqBytes uint64, reads int) error {
	if create != "" {
		ram, err := parseSize(create)
		if err != nil {
			return err
		}
		if err := createDump(path, ram); err != nil {
			return err
		}
	}
	t0 := time.Now()
	f, err := kdump.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	m := f.Physical()
	if m == nil {
		return fmt.Errorf("%s: a %s holds no physical memory to read", path, f.Header.DumpType)
	}
	openTime := time.Since(t0)
	fmt.Printf("dump:            %s, %s, %s layout, %d pages (%.1f GiB) of physical memory, file %d bytes\n",
		path, f.Header.DumpType, m.Kind, m.PageCount(), float64(m.PageCount())*physmem.PageSize/(1<<30), f.Size())
	for _, w := range f.Warnings {
		fmt.Printf("warning:         %s\n", w)
	}
	fmt.Printf("open:            %v\n", openTime.Round(time.Microsecond))
	printRSS("after open")

	if create != "" {
		if err := verifyStamps(m); err != nil {
			return err
		}
	}

	if m.PageCount() == 0 {
		return fmt.Errorf("%s: no physical page can be read", path)
	}
	n, d, err := sequential(m, seqBytes)
	if err != nil {
		return err
	}
	fmt.Printf("sequential:      %.2f GB/s (%d MiB in 1 MiB reads in %v; pages not yet in the page cache)\n",
		float64(n)/d.Seconds()/1e9, n>>20, d.Round(time.Millisecond))
	n, d, err = sequential(m, seqBytes)
	if err != nil {
		return err
	}
	fmt.Printf("sequential again: %.2f GB/s (the same %d MiB, now in the page cache)\n", float64(n)/d.Seconds()/1e9, n>>20)
	printRSS("after sequential reads")

	// Addresses are drawn as the reads go, so that the benchmark's own
	// memory stays out of the peak RSS figure.
	pages := pageIndex(m)
	rng := rand.New(rand.NewPCG(1, 2))
	rate, err := randomReads(m, reads, func() int64 {
		return pages.addr(rng.Uint64N(m.PageCount()), rng.Uint64N(physmem.PageSize/8)*8)
	})
	if err != nil {
		return err
	}
	fmt.Printf("random 8-byte:   %.0f reads/s spread over all %d pages (nearly every read faults a page in)\n", rate, m.PageCount())
	const working = 4096 // 16 MiB of pages
	set := make([]int64, min(working, m.PageCount()))
	for i := range set {
		set[i] = pages.addr(rng.Uint64N(m.PageCount()), 0)
	}
	local := func() int64 { return set[rng.IntN(len(set))] + int64(rng.IntN(physmem.PageSize/8)*8) }
	if _, err := randomReads(m, 4*len(set), local); err != nil { // fault the working set in
		return err
	}
	rate, err = randomReads(m, reads, local)
	if err != nil {
		return err
	}
	fmt.Printf("random 8-byte:   %.0f reads/s within a working set of %d random pages (16 MiB)\n", rate, len(set))

	// Random *virtual* reads belong here: translate random kernel virtual
	// addresses through the dump's page tables (DirectoryTableBase) and
	// read 8 bytes at each. That needs the virtual-to-physical translator
	// (package paging), which is not part of this tree yet.
	fmt.Println("random virtual:  not measured: needs the paging package (virtual-to-physical translation)")
	printRSS("at exit")
	return nil
}

func createDump(path string, ram uint64) error {
	// Deleting an earlier dump (and its cached pages) can take seconds;
	// it is not part of writing the new one.
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	t0 := time.Now()
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	d := dumpwriter.StampedBitmap(cpuctx.ArchX64, ram, stride)
	size, err := d.WriteSparse(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Printf("create:          %s: sparse bitmap dump of a %d GiB machine, %d bytes, written in %v\n",
		path, ram>>30, size, time.Since(t0).Round(time.Millisecond))
	return nil
}

// verifyStamps checks stamped pages of a created dump read back.
func verifyStamps(m *physmem.Memory) error {
	buf := make([]byte, 16)
	checked := 0
	for pfn := uint64(0); pfn*physmem.PageSize < m.Limit() && checked < 10000; pfn += stride * 97 {
		if _, err := m.ReadAt(buf, int64(pfn*physmem.PageSize)); err != nil {
			return err
		}
		if string(buf) != string(dumpwriter.Stamp(pfn)) {
			return fmt.Errorf("page %#x reads %x, want its stamp", pfn, buf)
		}
		checked++
	}
	fmt.Printf("verified:        %d stamped pages read back\n", checked)
	return nil
}

// sequential reads up to limit bytes of present memory in 1 MiB reads.
func sequential(m *physmem.Memory, limit uint64) (uint64, time.Duration, error) {
	buf := make([]byte, 1<<20)
	var n uint64
	t0 := time.Now()
	for r := range m.Pages() {
		pa, end := r.PFN*physmem.PageSize, (r.PFN+r.Count)*physmem.PageSize
		for pa < end && n < limit {
			k := min(uint64(len(buf)), end-pa, limit-n)
			if _, err := m.ReadAt(buf[:k], int64(pa)); err != nil {
				return n, 0, err
			}
			pa += k
			n += k
		}
		if n >= limit {
			break
		}
	}
	return n, time.Since(t0), nil
}

// randomReads makes n 8-byte reads at the addresses next gives and returns
// the reads per second.
func randomReads(m *physmem.Memory, n int, next func() int64) (float64, error) {
	buf := make([]byte, 8)
	t0 := time.Now()
	for range n {
		if _, err := m.ReadAt(buf, next()); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// ranges maps the i-th present page to its physical address.
type ranges struct {
	rs  []physmem.Range
	cum []uint64 // pages before each range
}

func pageIndex(m *physmem.Memory) *ranges {
	p := &ranges{}
	var n uint64
	for r := range m.Pages() {
		p.rs = append(p.rs, r)
		p.cum = append(p.cum, n)
		n += r.Count
	}
	return p
}

func (p *ranges) addr(page, off uint64) int64 {
	i := sort.Search(len(p.cum), func(i int) bool { return p.cum[i] > page }) - 1
	return int64((p.rs[i].PFN+page-p.cum[i])*physmem.PageSize + off)
}
