package analyze

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/inbox"
)

// Audiences of playbook steps.
const (
	AudienceAdmin     = "admin"
	AudienceDeveloper = "developer"
)

// Step is one action of the playbook, with the exact commands to run.
type Step struct {
	Audience string   `json:"audience"` // admin: whoever looks after the machine; developer: whoever owns the driver's code
	Action   string   `json:"action"`
	Commands []string `json:"commands,omitempty"`
}

var infRe = regexp.MustCompile(`(?i)\\driverstore\\filerepository\\([^\\]+?\.inf)_`)

// infName returns the INF a driver was installed from, when its path is in
// the driver store.
func infName(path string) string {
	if m := infRe.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

// thirdParty lists the loaded modules that do not ship with Windows.
func (a *analysis) thirdParty() []string {
	var out []string
	for _, m := range a.mods {
		if inbox.Classify(m.BaseName(), m.Name) != inbox.Microsoft {
			out = append(out, m.BaseName())
		}
	}
	sort.Strings(out)
	return out
}

func verifierSteps(drivers string) []Step {
	return []Step{
		{AudienceAdmin, fmt.Sprintf("Turn on Driver Verifier for %s (as administrator), reboot and use the machine as before: the next crash stops at the driver's first bad call and names it.", drivers),
			[]string{"verifier /standard /driver " + drivers, "verifier /query"}},
		{AudienceAdmin, "If the crash points to memory corruption, add IRP logging to the standard checks (which already include special pool and pool tracking), reboot and reproduce.",
			[]string{"verifier /flags 0x20dbb /driver " + drivers}},
		{AudienceAdmin, "Turn Driver Verifier off when done (it slows the machine, and a verifier crash at boot can be undone from Safe Mode the same way).",
			[]string{"verifier /reset"}},
	}
}

// playbook writes the ordered steps for the verdict.
func (a *analysis) playbook(base uint32) []Step {
	c := a.r.Culprit
	var s []Step
	admin := func(action string, cmds ...string) { s = append(s, Step{AudienceAdmin, action, cmds}) }
	dev := func(action string) { s = append(s, Step{AudienceDeveloper, action, nil}) }
	s = append(s, codeAdvice[base]...)
	switch c.Kind {
	case KindManual:
		admin("If nobody started it on purpose, look for a stuck power button, the keyboard crash hotkey (CrashOnCtrlScroll) or a tool that forces crashes.")
		return s
	case KindHardware:
		admin("Open Event Viewer → Windows Logs → System and look for WHEA-Logger warnings and errors before the crash: they name the failing component (processor core, memory, PCI Express device).", "eventvwr.msc")
		admin("Update the BIOS/UEFI firmware and the chipset drivers from the PC or motherboard maker; undo any overclocking or undervolting.")
		admin("Test the memory and check cooling and power supply.", "mdsched.exe")
		return s
	}
	switch {
	case c.Kind == KindDriver && c.Origin == string(inbox.ThirdParty):
		inf := infName(c.Path)
		find := fmt.Sprintf("Find the driver package of %s and its version: in the list, the entry whose Original Name is %s; note its Published Name (oemNN.inf), provider and version.", c.Module, or(inf, "its INF"))
		admin(find, "pnputil /enum-drivers")
		admin(fmt.Sprintf("Install the newest version of %s from the device or software vendor. If the crashes began after it was updated, roll it back instead (Device Manager → the device → Properties → Driver → Roll Back Driver), or remove the package found above.", c.Module),
			"pnputil /delete-driver oemNN.inf /uninstall")
		s = append(s, verifierSteps(c.Module)...)
	case c.Kind == KindDriver && c.Origin == string(inbox.Microsoft):
		admin(fmt.Sprintf("%s is part of Windows: install the latest cumulative update (Settings → Windows Update).", c.Module))
		admin(fmt.Sprintf("Faults in a Windows driver usually come from the hardware it drives or from the firmware: update the BIOS/UEFI and the chipset drivers from the PC or motherboard maker. %s", hardwareHint(c.Module)))
		admin("Repair Windows system files in case the driver image is damaged.", "sfc /scannow", "DISM /Online /Cleanup-Image /RestoreHealth")
		s = append(s, verifierSteps(c.Module)...)
	case c.Kind == KindDriver:
		admin(fmt.Sprintf("Find out which product installed %s (its file properties, or the package list) and install its newest version; if the crashes began after an update, roll it back.", c.Module), "pnputil /enum-drivers", "driverquery /v")
		s = append(s, verifierSteps(c.Module)...)
	default: // core, corruption, unknown
		list := strings.Join(a.thirdParty(), " ")
		if list == "" {
			list = "<the non-Microsoft drivers>"
		}
		admin("No single driver can be blamed from this dump. Driver Verifier catches the driver that corrupts memory at the moment it does so: turn it on for the non-Microsoft drivers loaded at the crash.")
		s = append(s, verifierSteps(list)...)
		admin("Repair Windows system files.", "sfc /scannow", "DISM /Online /Cleanup-Image /RestoreHealth")
	}
	admin("Check Event Viewer → Windows Logs → System around the crash: BugCheck (event 1001) and Kernel-Power (event 41) entries confirm the stop code; warnings from the same driver, disk errors or WHEA-Logger events before it show what led up to it.", "eventvwr.msc")
	admin("If crashes keep coming with different stop codes and different drivers, suspect hardware: test the memory and look for WHEA-Logger errors.", "mdsched.exe")

	if acc := a.r.Access; acc != nil && acc.Pool != nil {
		pl := acc.Pool
		tagC := reverse(pl.Tag) // the multi-character constant the source passes
		switch {
		case pl.Where == "inside":
			dev(fmt.Sprintf("The crash touched the %s-byte pool buffer at %s, allocated with tag '%s' (written '%s' in the source): find the allocations with that tag and check the lifetime of this buffer — freed too early, or used after another thread freed it.", pl.Size, pl.Address, pl.Tag, tagC))
		default:
			dev(fmt.Sprintf("The %s landed %s of the %s-byte pool buffer at %s, allocated with tag '%s' (written '%s' in the source): find the allocations with that tag and check every copy and loop that writes into the buffer against its allocated size.", acc.Kind, pl.Where, pl.Size, pl.Address, pl.Tag, tagC))
		}
	}
	adv := developerAdvice(base, a.f.Header.BugCheckParameters[0])
	if adv == nil {
		if in, ok := bugcode.Lookup(base); ok {
			adv = []string{"See Microsoft's reference for bug check " + in.Name + " for the conditions that raise it, and the parameter meanings in this report."}
		}
	}
	for _, d := range adv {
		dev(d)
	}
	return s
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// hardwareHint names the hardware behind common inbox drivers.
func hardwareHint(module string) string {
	m := strings.ToLower(module)
	switch {
	case m == "amdppm.sys" || m == "intelppm.sys" || m == "processr.sys":
		return "This one is the processor power-management driver: processor microcode (delivered with BIOS updates) and ACPI tables are the usual suspects."
	case m == "storport.sys" || m == "stornvme.sys" || m == "storahci.sys" || m == "disk.sys" || m == "ntfs.sys" || m == "classpnp.sys":
		return "This one is in the storage path: check the disk's health (SMART) and firmware, and the cables."
	case m == "ndis.sys" || m == "tcpip.sys" || m == "netio.sys":
		return "This one is in the network stack: network adapter drivers and filters (VPN, firewall, antivirus) running inside it are the usual suspects."
	case m == "dxgkrnl.sys" || m == "dxgmms2.sys" || m == "watchdog.sys":
		return "This one is in the graphics stack: update the display driver from the GPU maker."
	case strings.HasPrefix(m, "usb") || m == "ucx01000.sys":
		return "This one is in the USB stack: unplug USB devices one at a time to find the one involved, and update their drivers."
	}
	return ""
}

// developerAdvice gives the code-level fixes the bug check implies, or nil
// when nothing specific is known for it.
func developerAdvice(base uint32, p1 uint64) []string {
	switch family(base) {
	case "pagefault":
		return []string{
			"Check the size of every copy into a buffer against the size it was allocated with (RtlCopyMemory, loops writing arrays); a write that lands exactly on a page boundary is the signature of an overrun.",
			"Allocate memory that is touched at DISPATCH_LEVEL or above from nonpaged pool: ExAllocatePool2(POOL_FLAG_NON_PAGED, size, tag) instead of the deprecated ExAllocatePoolWithTag, and check the result for NULL before use.",
			"Never use memory after ExFreePool(WithTag); clear pointers to freed memory, and take references (ObReferenceObject, IoAcquireRemoveLock) on objects that other threads may free.",
			"Protect data shared between threads, DPCs and interrupt routines with a spin lock (KeAcquireSpinLock / KeAcquireInStackQueuedSpinLock) or another synchronization object.",
			"To touch a process's user-mode memory from a system thread, attach first with KeStackAttachProcess and probe the buffer inside __try/__except.",
		}
	case "irql":
		return []string{
			"At DISPATCH_LEVEL and above touch only nonpaged memory: no paged pool (use ExAllocatePool2 with POOL_FLAG_NON_PAGED), no code in PAGE sections (#pragma alloc_text, PAGED_CODE()), no pageable data.",
			"Check pointers and allocation results for NULL before dereferencing them.",
			"Annotate functions with _IRQL_requires_max_ and run Code Analysis for Drivers / Static Driver Verifier to find calls made at the wrong IRQL.",
		}
	case "exception":
		return []string{
			"Validate pointers and allocation results (NULL) before dereferencing them; check lengths before indexing arrays.",
			"Probe user-mode buffers with ProbeForRead/ProbeForWrite inside __try/__except, and copy them before use.",
			"Synchronise access to data shared between threads, DPCs and interrupts.",
		}
	}
	switch base {
	case 0x19, 0xc2, 0xc5, 0x13a, 0xc1, 0xd0:
		return []string{
			"Pool corruption is found after the fact: the code that crashed is usually the victim. Reproduce with Driver Verifier special pool on the suspect drivers to catch the write when it happens.",
			"Check buffer sizes on every write into pool memory, free each allocation exactly once, and never use it after freeing it.",
			"Allocate with ExAllocatePool2 and a unique pool tag per allocation site, so !pool and pool tracking name the owner.",
		}
	case 0x133:
		return []string{
			"Keep DPC and interrupt routines short: move work to a work item or a passive-level thread (IoQueueWorkItem, KeInsertQueueDpc with small batches).",
			"Do not hold spin locks for long or spin-wait on hardware at DISPATCH_LEVEL; bound every loop that waits for a device.",
		}
	case 0x9f:
		return []string{
			"Complete or pass down every power IRP (IRP_MN_SET_POWER, IRP_MN_QUERY_POWER) promptly; call PoStartNextPowerIrp on older systems and never block in the power path.",
			"For KMDF drivers, keep EvtDeviceD0Entry/D0Exit quick and return failures instead of waiting on hardware indefinitely.",
		}
	case 0xc4:
		return []string{
			"Driver Verifier caught a rule violation: the subtype in parameter 1 names the rule; fix the call it reports, then run the driver under Verifier again until it is clean.",
		}
	case 0x139:
		if p1 == 3 {
			return []string{"A LIST_ENTRY was corrupted: an entry was removed twice, freed while still in a list, or written over. Check every InsertTailList/RemoveEntryList pair and the lifetime of list entries, under the lock that protects the list."}
		}
		return []string{"A security check failed because memory was corrupted (stack cookie, list entry or similar): look for buffer overruns and use-after-free in the code on the stack."}
	case 0xf7:
		return []string{"A stack buffer was overrun: check the sizes of local arrays against every copy into them (RtlCopyMemory, string functions); use the safe string functions (RtlStringCch*)."}
	case 0x7f:
		if p1 == 8 {
			return []string{"A double fault usually means the kernel stack overflowed: remove large local variables and deep recursion, and use IoGetRemainingStackSize / KeExpandKernelStackAndCallout where deep call chains are unavoidable."}
		}
	case 0xce:
		return []string{"Before the driver unloads, cancel its timers (KeCancelTimer), flush its DPCs (KeFlushQueuedDpcs), wait for its work items and system threads, and unregister its callbacks."}
	case 0xea, 0x116, 0x117, 0x119:
		return []string{"The GPU stopped responding to the display driver: check the driver's timeout detection and recovery (TDR) paths and the commands it submits."}
	}
	return nil
}

// HasSpecificAdvice reports whether the playbook has steps written for this
// bug check or its family, beyond the general ones.
func HasSpecificAdvice(code uint32) bool {
	base := bugcode.Base(code)
	return len(codeAdvice[base]) > 0 || developerAdvice(base, 0) != nil
}

// reverse spells a pool tag the way C source writes it: the multi-character
// constant 'rFcA' is stored as the bytes "AcFr".
func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
