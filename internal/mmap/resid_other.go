//go:build !linux

package mmap

// residency is a no-op outside Linux. The Linux version reads /proc to keep
// mapped file pages out of the resident set; Windows trims a process's
// working set of mapped file pages by itself, and macOS has no madvise in
// package syscall.
type residency struct{}

func (residency) init([]byte)      {}
func (residency) touch(int64, int) {}
func (residency) directRead() bool { return false }
