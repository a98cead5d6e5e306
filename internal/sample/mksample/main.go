// Command mksample writes the sample dump the repository ships:
//
//	go run ./internal/sample/mksample samples/page-fault-0x50.dmp
package main

import (
	"fmt"
	"os"

	"github.com/bugcheck/bugcheck/internal/sample"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mksample OUTPUT.dmp")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], sample.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
