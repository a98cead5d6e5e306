package winver

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	cases := []struct {
		build, product uint32
		want           string
	}{
		{19041, 1, "Windows 10 version 2004"},
		{19045, 1, "Windows 10 version 22H2"},
		{22631, 1, "Windows 11 version 23H2"},
		{26100, 1, "Windows 11 version 24H2"},
		{26100, 3, "Windows Server 2025"},
		{17763, 3, "Windows Server 2019"},
		{17763, 2, "Windows Server 2019"},
		{14393, 3, "Windows Server 2016"},
		{7601, 1, "Windows 7 SP1"},
		{9600, 3, "Windows Server 2012 R2"},
	}
	for _, c := range cases {
		if got := Name(c.build, c.product); got != c.want {
			t.Errorf("Name(%d, %d) = %q, want %q", c.build, c.product, got, c.want)
		}
	}
	for _, c := range []struct {
		build uint32
		has   string
	}{{30000, "newer than"}, {22500, "Windows 11 (build 22500"}, {19500, "Windows 10 (build 19500"}, {1234, "unknown release"}} {
		if got := Name(c.build, 1); !strings.Contains(got, c.has) {
			t.Errorf("Name(%d) = %q", c.build, got)
		}
	}
}
