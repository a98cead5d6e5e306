//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"fmt"
	"runtime"
	"syscall"
)

// printRSS prints the peak resident set from getrusage.
func printRSS(when string) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Printf("peak RSS:        unknown (%v)\n", err)
		return
	}
	peak := int64(ru.Maxrss) // kilobytes, except on macOS
	if runtime.GOOS != "darwin" {
		peak <<= 10
	}
	fmt.Printf("peak RSS:        %d kB (getrusage) %s\n", peak>>10, when)
}
