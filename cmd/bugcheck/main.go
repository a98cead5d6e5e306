// Command bugcheck explains Windows blue screens from their crash dumps.
//
//	bugcheck analyze C:\Windows\Minidump\*.dmp
//	bugcheck analyze --json crash.dmp
//	bugcheck modules crash.dmp
//	bugcheck header crash.dmp
//
// Exit status: 0 when every dump was analysed, 1 when some failed, 2 for a
// usage error.
package main

import (
	"os"

	"github.com/bugcheck/bugcheck/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
