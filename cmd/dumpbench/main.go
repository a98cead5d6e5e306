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
// within a 16 MiB working set (this measures the reader), and random
// 8-byte virtual reads, each translated through the dump's page tables:
// created dumps map a 1 GiB kernel window onto pages spread over all of
// memory; for other dumps the reads fall around the kernel's module list.
package main

import (
	"encoding/binary"
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
	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
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

	if err := virtualReads(f, reads, create != ""); err != nil {
		return err
	}
	printRSS("at exit")
	return nil
}

// Created dumps map a window of kernel virtual memory, 4 KiB page by page,
// onto physical pages spread over the whole machine, so that virtual
// reads exercise the page-table walk.
const (
	windowVA   = 0xffffb00000000000
	windowSize = 1 << 30
)

// windowPFN is the physical page that page i of the window maps, for a
// machine of ramPages pages.
func windowPFN(i, ramPages uint64) uint64 {
	spread := max(ramPages/(windowSize/physmem.PageSize), 1)
	return (i * spread) % ramPages
}

// windowTables builds the page tables of the created dump's window.
func windowTables(ramPages uint64) (*ptbuild.Memory, error) {
	mem := &ptbuild.Memory{}
	b, err := ptbuild.New(paging.X64, mem, tablePFN, ptbuild.Layout{Build: 19041})
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < windowSize/physmem.PageSize; i++ {
		if err := b.Map(windowVA+i*physmem.PageSize, windowPFN(i, ramPages)*physmem.PageSize, physmem.PageSize); err != nil {
			return nil, err
		}
	}
	return mem, nil
}

// tablePFN is where the created dump's page tables start: the header's
// DirectoryTableBase, 0x1ad000, as on a real machine.
const tablePFN = 0x1ad

// virtualReads times random 8-byte reads at kernel virtual addresses,
// each translated through the dump's page tables (DirectoryTableBase).
// For dumps it did not create it reads within the first mapped window of
// kernel space it finds: the loaded-module list's head is a safe start.
func virtualReads(f *kdump.File, n int, created bool) error {
	mem := f.Memory()
	if f.PageTables() == nil {
		fmt.Println("random virtual:  not measured: the dump holds no page tables")
		return nil
	}
	base, size := uint64(windowVA), uint64(windowSize)
	if !created {
		// A real dump: read around the kernel's loaded-module list, 16 MiB.
		base, size = f.Header.PsLoadedModuleList&^0xffffff, 16<<20
	}
	var buf [8]byte
	if created {
		// Stamped pages must read back through the page tables.
		ramPages := f.Physical().Limit() / physmem.PageSize
		checked := 0
		for i := uint64(0); i < windowSize/physmem.PageSize && checked < 1000; i++ {
			pfn := windowPFN(i, ramPages)
			if pfn%stride != 0 || pfn < tablePFN+0x400 {
				continue // unstamped, or near the page tables
			}
			if k, err := mem.Read(windowVA+i*physmem.PageSize, buf[:]); k != 8 || binary.LittleEndian.Uint64(buf[:]) != pfn {
				return fmt.Errorf("virtual page %#x reads %x (%v), want the stamp of physical page %#x", windowVA+i*physmem.PageSize, buf, err, pfn)
			}
			checked++
		}
		fmt.Printf("verified:        %d stamped pages read back through the page tables\n", checked)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	if size > 16<<20 {
		// Within 16 MiB of the window first: the cost of translation itself.
		const working = 16 << 20
		for i := 0; i < 4*working/physmem.PageSize; i++ {
			_, _ = mem.Read(base+rng.Uint64N(working/8)*8, buf[:]) // fault the working set in
		}
		t0 := time.Now()
		for range n {
			_, _ = mem.Read(base+rng.Uint64N(working/8)*8, buf[:])
		}
		fmt.Printf("random virtual:  %.0f reads/s of 8 bytes within 16 MiB of the window (%d pages, spread over physical memory)\n",
			float64(n)/time.Since(t0).Seconds(), working/physmem.PageSize)
	}
	t0 := time.Now()
	failed := 0
	for range n {
		va := base + rng.Uint64N(size/8)*8
		if k, _ := mem.Read(va, buf[:]); k != 8 {
			failed++
		}
	}
	fmt.Printf("random virtual:  %.0f reads/s of 8 bytes at random addresses of a %d MiB window at %#x (%d not in the dump; nearly every read faults a page in)\n",
		float64(n)/time.Since(t0).Seconds(), size>>20, base, failed)
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
	tables, err := windowTables(ram / physmem.PageSize)
	if err != nil {
		return err
	}
	stamp := d.PageFunc
	d.PageFunc = func(pfn uint64) []byte {
		if p := tables.Page(pfn); p != nil {
			return p
		}
		return stamp(pfn)
	}
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
