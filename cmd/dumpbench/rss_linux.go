package main

import (
	"fmt"
	"os"
	"strings"
)

// printRSS prints the peak and current resident set from /proc.
func printRSS(when string) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Printf("peak RSS:        unknown (%v)\n", err)
		return
	}
	var hwm, rss string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
	}
	fmt.Printf("peak RSS:        %s (VmHWM; now %s) %s\n", hwm, rss, when)
}
