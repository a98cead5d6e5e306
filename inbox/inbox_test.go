package inbox

import "testing"

func TestClassify(t *testing.T) {
	cases := []struct {
		name, path string
		want       Origin
	}{
		{"ntoskrnl.exe", `\SystemRoot\system32\ntoskrnl.exe`, Microsoft},
		{"amdppm.sys", `\SystemRoot\System32\drivers\amdppm.sys`, Microsoft},
		{"Wdf01000.sys", `\SystemRoot\System32\drivers\Wdf01000.sys`, Microsoft},
		{"halmacpi.dll", `\SystemRoot\system32\halmacpi.dll`, Microsoft},
		{"acmefilt.sys", `\SystemRoot\System32\DriverStore\FileRepository\acmefilt.inf_amd64_5f3c\acmefilt.sys`, ThirdParty},
		{"nvlddmkm.sys", `\SystemRoot\System32\DriverStore\FileRepository\nv_dispi.inf_amd64_1\nvlddmkm.sys`, ThirdParty},
		{"vendor.sys", `\??\C:\Program Files\Vendor\vendor.sys`, ThirdParty},
		{"mystery.sys", `\SystemRoot\System32\drivers\mystery.sys`, Unknown},
	}
	for _, c := range cases {
		if got := Classify(c.name, c.path); got != c.want {
			t.Errorf("Classify(%s) = %s, want %s", c.name, got, c.want)
		}
	}
}
