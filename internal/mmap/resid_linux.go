//go:build linux

package mmap

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// residency keeps the pages that small reads fault in from piling up in the
// process's resident set: file pages count in RSS while they are mapped, so
// random reads over a 32 GB dump would otherwise leave gigabytes mapped
// (each fault can also map up to 16 neighbouring pages that are already in
// the page cache). Every checkEvery small reads it looks at the process's
// page faults and resident file pages. When the resident file pages exceed
// residentBudget it drops the mapping's page-table entries
// (MADV_DONTNEED); the data stays in the page cache. When most of the
// reads since the last check faulted (a scan over more memory than stays
// mapped), small reads go through the file for the next direct reads: a
// read system call costs less than a page fault and maps nothing. Then the
// mapping is tried again, so a working set that reads hit is served from
// memory.
type residency struct {
	data   []byte
	reads  atomic.Int64
	direct atomic.Int64 // small reads left to send through the file
	mu     sync.Mutex   // serialises checks
	faults int64        // the process's minor faults at the last check
}

const (
	residentBudget = 64 << 20
	checkEvery     = 256
	directReads    = 1 << 16
)

// randomAdviceMin is the size from which a mapping is advised random
// access. Smaller files (triage dumps) are parsed front to back and gain
// from the kernel's read-around.
const randomAdviceMin = 64 << 20

// init advises random access for large files: small reads there are
// look-ups scattered over gigabytes, and the default read-around would
// fetch megabytes per fault (the device's readahead, 8 MB on some virtual
// disks). Large reads go through the file and keep the kernel's sequential
// readahead.
func (r *residency) init(data []byte) {
	r.data = data
	if len(data) >= randomAdviceMin {
		_ = syscall.Madvise(data, syscall.MADV_RANDOM)
	}
}

// direct reports whether the next small read should go through the file.
func (r *residency) directRead() bool {
	return r.direct.Load() > 0 && r.direct.Add(-1) >= 0
}

// touch records a small read from the mapping.
func (r *residency) touch(int64, int) {
	if r.data == nil || r.reads.Add(1)%checkEvery != 0 || !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	faults := int64(ru.Minflt) + int64(ru.Majflt)
	scanning := faults-r.faults > checkEvery/2
	if fileResident() > residentBudget {
		// Advice only: a failure leaves the pages mapped, which is harmless.
		_ = syscall.Madvise(r.data, syscall.MADV_DONTNEED)
	}
	if scanning {
		r.direct.Store(directReads)
	}
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		faults = int64(ru.Minflt) + int64(ru.Majflt)
	}
	r.faults = faults
}

// fileResident returns the bytes of file-backed and shared memory resident
// in the process (the third field of /proc/self/statm), or 0 when unknown.
func fileResident() int64 {
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	var buf [128]byte
	n, _ := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	field, v := 0, int64(0)
	for _, c := range buf[:max(n, 0)] {
		switch {
		case c == ' ':
			if field == 2 {
				return v * int64(syscall.Getpagesize())
			}
			field, v = field+1, 0
		case c >= '0' && c <= '9':
			v = v*10 + int64(c-'0')
		}
	}
	return 0
}
