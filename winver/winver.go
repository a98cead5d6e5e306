// Package winver names Windows releases from the build number a crash dump
// records (the dump header's MinorVersion), so reports can say "Windows 10
// version 22H2" instead of "build 19045".
package winver

import "fmt"

// Product types, as in the dump header's ProductType field.
const (
	ProductWorkstation      = 1
	ProductDomainController = 2
	ProductServer           = 3
)

type release struct {
	client, server string
}

// releases maps RTM build numbers to release names. Windows 10 and 11
// releases that share a code base are told apart by build number alone.
var releases = map[uint32]release{
	2195:  {"Windows 2000", "Windows 2000 Server"},
	2600:  {"Windows XP", "Windows XP"},
	3790:  {"Windows XP x64 / Server 2003", "Windows Server 2003"},
	6000:  {"Windows Vista", "Windows Server 2008"},
	6001:  {"Windows Vista SP1", "Windows Server 2008"},
	6002:  {"Windows Vista SP2", "Windows Server 2008 SP2"},
	6003:  {"Windows Vista SP2", "Windows Server 2008 SP2"},
	7600:  {"Windows 7", "Windows Server 2008 R2"},
	7601:  {"Windows 7 SP1", "Windows Server 2008 R2 SP1"},
	9200:  {"Windows 8", "Windows Server 2012"},
	9600:  {"Windows 8.1", "Windows Server 2012 R2"},
	10240: {"Windows 10 version 1507", "Windows 10 version 1507"},
	10586: {"Windows 10 version 1511", "Windows Server 2016 preview"},
	14393: {"Windows 10 version 1607", "Windows Server 2016"},
	15063: {"Windows 10 version 1703", "Windows Server version 1703"},
	16299: {"Windows 10 version 1709", "Windows Server version 1709"},
	17134: {"Windows 10 version 1803", "Windows Server version 1803"},
	17763: {"Windows 10 version 1809", "Windows Server 2019"},
	18362: {"Windows 10 version 1903", "Windows Server version 1903"},
	18363: {"Windows 10 version 1909", "Windows Server version 1909"},
	19041: {"Windows 10 version 2004", "Windows Server version 2004"},
	19042: {"Windows 10 version 20H2", "Windows Server version 20H2"},
	19043: {"Windows 10 version 21H1", "Windows 10 version 21H1"},
	19044: {"Windows 10 version 21H2", "Windows 10 version 21H2"},
	19045: {"Windows 10 version 22H2", "Windows 10 version 22H2"},
	20348: {"Windows Server 2022", "Windows Server 2022"},
	22000: {"Windows 11 version 21H2", "Windows 11 version 21H2"},
	22621: {"Windows 11 version 22H2", "Windows 11 version 22H2"},
	22631: {"Windows 11 version 23H2", "Windows 11 version 23H2"},
	25398: {"Windows Server version 23H2", "Windows Server version 23H2"},
	26100: {"Windows 11 version 24H2", "Windows Server 2025"},
	26200: {"Windows 11 version 25H2", "Windows 11 version 25H2"},
}

// newest is the highest build in the table.
const newest = 26200

// Name returns the release name for a build and product type. Unknown
// builds get an honest description rather than a guess.
func Name(build, productType uint32) string {
	if r, ok := releases[build]; ok {
		if productType == ProductServer || productType == ProductDomainController {
			return r.server
		}
		return r.client
	}
	switch {
	case build > newest:
		return fmt.Sprintf("Windows build %d (newer than this version of bugcheck knows)", build)
	case build > 22000:
		return fmt.Sprintf("Windows 11 (build %d, a pre-release or unlisted build)", build)
	case build > 10240:
		return fmt.Sprintf("Windows 10 (build %d, a pre-release or unlisted build)", build)
	}
	return fmt.Sprintf("Windows build %d (unknown release)", build)
}
