//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "fmt"

func printRSS(when string) {
	fmt.Printf("peak RSS:        not available on this system %s\n", when)
}
