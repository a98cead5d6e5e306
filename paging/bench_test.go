package paging_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

const (
	benchBase  = uint64(0xFFFF_B000_0000_0000)
	benchSize  = uint64(1 << 30) // 1 GiB of 4 KiB pages: 262,144 PTEs in 512 page tables
	benchFrame = uint64(0x100_0000)
	benchAlias = 256 // data frames the pages share: sparse physical backing
)

var benchSpace = sync.OnceValues(func() (*ptbuild.Builder, error) {
	b, err := ptbuild.New(paging.X64, &ptbuild.Memory{}, 0x100, ptbuild.Layout{})
	if err != nil {
		return nil, err
	}
	for off := uint64(0); off < benchSize; off += 4096 {
		if err := b.Map(benchBase+off, benchFrame+(off>>12%benchAlias)<<12, 4096); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, 4096)
	for i := range uint64(benchAlias) {
		for j := range buf {
			buf[j] = byte(i)
		}
		b.Memory().WriteAt(buf, int64(benchFrame+i<<12))
	}
	return b, nil
})

func benchAddrs(n int) []uint64 {
	r := rand.New(rand.NewPCG(1, 2))
	vas := make([]uint64, n)
	for i := range vas {
		vas[i] = benchBase + r.Uint64N(benchSize-8)
	}
	return vas
}

// BenchmarkTranslateRandom translates random addresses of a 1 GiB region
// mapped with 4 KiB pages.
func BenchmarkTranslateRandom(b *testing.B) {
	pb, err := benchSpace()
	if err != nil {
		b.Fatal(err)
	}
	tr := paging.New(paging.X64, pb.Root(), pb.Memory())
	vas := benchAddrs(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		va := vas[i&(1<<20-1)]
		pa, err := tr.Translate(va)
		if err != nil || pa&0xFFF != va&0xFFF {
			b.Fatalf("Translate(%#x) = %#x, %v", va, pa, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "translations/s")
}

// BenchmarkReadVirtualRandom8 does 8-byte reads at random addresses of a
// 1 GiB region mapped with 4 KiB pages (some straddle two pages).
func BenchmarkReadVirtualRandom8(b *testing.B) {
	pb, err := benchSpace()
	if err != nil {
		b.Fatal(err)
	}
	tr := paging.New(paging.X64, pb.Root(), pb.Memory())
	vas := benchAddrs(1 << 20)
	var buf [8]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		va := vas[i&(1<<20-1)]
		if _, err := tr.ReadAt(buf[:], va); err != nil || buf[0] != byte(va>>12%benchAlias) {
			b.Fatalf("ReadAt(%#x) = % x, %v", va, buf, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

func TestBenchSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 GiB of page tables")
	}
	pb, err := benchSpace()
	if err != nil {
		t.Fatal(err)
	}
	// 1 root + 1 PDPT + 1 PD + 512 page tables, and the aliased data frames.
	if got, want := pb.Memory().Len(), 1+1+1+512+benchAlias; got != want {
		t.Errorf("pages = %d, want %d", got, want)
	}
	tr := paging.New(paging.X64, pb.Root(), pb.Memory())
	if pa, err := tr.Translate(benchBase + benchSize - 1); err != nil || pa != benchFrame+255<<12|0xFFF {
		t.Errorf("last byte -> %#x, %v", pa, err)
	}
}
