package physmem_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/mmap"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/physmem"
)

const (
	benchRAM    = 32 << 30 // a 32 GB machine, all of it captured
	benchStride = 512      // one stamped page per 2 MiB
)

// sparseDump writes the sparse 32 GB bitmap dump and opens its physical
// memory through the memory map, as kdump.Open does.
func sparseDump(b *testing.B) *physmem.Memory {
	b.Helper()
	path := filepath.Join(b.TempDir(), "MEMORY.DMP")
	fh, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	_, err = dumpwriter.StampedBitmap(cpuctx.ArchX64, benchRAM, benchStride).WriteSparse(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	r, err := mmap.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	m, err := physmem.NewBitmap(r, r.Size(), kdump.HeaderSize64)
	if err != nil {
		b.Fatal(err)
	}
	if m.PageCount() != benchRAM/physmem.PageSize {
		b.Fatalf("%d pages", m.PageCount())
	}
	return m
}

func randomAddrs(n int, limit uint64) []int64 {
	rng := rand.New(rand.NewPCG(4, 5))
	a := make([]int64, n)
	for i := range a {
		a[i] = int64(rng.Uint64N(limit) &^ 7)
	}
	return a
}

// BenchmarkRank looks up the file offsets of random pages in a 64 GB
// machine's bitmap (16 M bits) that is half full.
func BenchmarkRank(b *testing.B) {
	const nbits = 16 << 20
	bm := make([]byte, nbits/8)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range bm {
		bm[i] = byte(rng.Uint32())
	}
	first := (kdump.HeaderSize64 + physmem.BitmapHeaderSize + len(bm) + physmem.PageSize - 1) &^ (physmem.PageSize - 1)
	hdr := make([]byte, first)
	copy(hdr[kdump.HeaderSize64:], "SDMPDUMP")
	put := func(off int, v uint64) {
		for i := range 8 {
			hdr[off+i] = byte(v >> (8 * i))
		}
	}
	put(kdump.HeaderSize64+0x20, uint64(first))
	put(kdump.HeaderSize64+0x30, nbits)
	copy(hdr[kdump.HeaderSize64+physmem.BitmapHeaderSize:], bm)
	// The pages themselves are never read: claim a file large enough.
	m, err := physmem.NewBitmap(bytes.NewReader(hdr), int64(first)+nbits*physmem.PageSize, kdump.HeaderSize64)
	if err != nil {
		b.Fatal(err)
	}
	addrs := randomAddrs(1<<16, nbits*physmem.PageSize)
	b.ResetTimer()
	found := 0
	for i := 0; b.Loop(); i++ {
		if _, err := m.FileOffset(uint64(addrs[i&(len(addrs)-1)])); err == nil {
			found++
		}
	}
	if found == 0 {
		b.Fatal("no page found")
	}
}

// BenchmarkRandomRead8 reads 8 bytes at random physical addresses of the
// sparse 32 GB dump.
func BenchmarkRandomRead8(b *testing.B) {
	m := sparseDump(b)
	addrs := randomAddrs(1<<20, benchRAM)
	buf := make([]byte, 8)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := m.ReadAt(buf, addrs[i&(len(addrs)-1)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSequentialRead1M reads the first GiB of the sparse 32 GB dump's
// physical memory in 1 MiB pieces, over and over.
func BenchmarkSequentialRead1M(b *testing.B) {
	m := sparseDump(b)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pa := int64(i%1024) << 20
		if _, err := m.ReadAt(buf, pa); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomRead8Local reads 8 bytes at random in a working set of
// 4096 random pages (16 MiB) of the sparse 32 GB dump, as page-table walks
// and kernel structure look-ups do.
func BenchmarkRandomRead8Local(b *testing.B) {
	m := sparseDump(b)
	set := randomAddrs(4096, benchRAM)
	rng := rand.New(rand.NewPCG(6, 7))
	addrs := make([]int64, 1<<16)
	for i := range addrs {
		addrs[i] = set[rng.IntN(len(set))]
	}
	buf := make([]byte, 8)
	for _, a := range addrs {
		m.ReadAt(buf, a)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := m.ReadAt(buf, addrs[i&(len(addrs)-1)]); err != nil {
			b.Fatal(err)
		}
	}
}
