// Package inbox tells Windows' own (inbox) kernel modules from third-party
// drivers, so a verdict can say whether the fix comes from Windows Update
// or from a hardware vendor. The list holds kernel modules that ship with
// Windows 10 and 11; it was written for this project from the module lists
// of stock installations and is not exhaustive.
package inbox

import (
	"strings"
)

// Origin says where a driver comes from.
type Origin string

// Origins.
const (
	Microsoft  Origin = "microsoft-inbox" // ships with Windows
	ThirdParty Origin = "third-party"     // installed from a vendor's driver package
	Unknown    Origin = "unknown"
)

// Classify decides the origin of a module from its name and the path the
// loader recorded.
func Classify(name, path string) Origin {
	if IsInbox(name) {
		return Microsoft
	}
	p := strings.ToLower(path)
	if strings.Contains(p, `\driverstore\filerepository\`) || strings.Contains(p, `\program files`) ||
		strings.HasPrefix(p, `\??\`) || strings.Contains(p, `\programdata\`) {
		return ThirdParty
	}
	return Unknown
}

// IsInbox reports whether name (case-insensitive) is a module that ships
// with Windows.
func IsInbox(name string) bool {
	n := strings.ToLower(name)
	if _, ok := names[n]; ok {
		return true
	}
	// Families whose members vary by build or hardware.
	for _, p := range []string{"hal", "kd", "dump_", "ntkrnl", "ntkrpa", "ntoskrnl"} {
		if strings.HasPrefix(n, p) && (strings.HasSuffix(n, ".dll") || strings.HasSuffix(n, ".sys") || strings.HasSuffix(n, ".exe")) {
			return true
		}
	}
	return false
}

var names = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, n := range strings.Fields(list) {
		m[strings.ToLower(n)] = struct{}{}
	}
	return m
}()

// list of inbox kernel modules, lower case or as Windows spells them.
const list = `
ntoskrnl.exe ntkrnlmp.exe ntkrnlpa.exe ntkrpamp.exe ntkrla57.exe hal.dll kd.dll kdcom.dll kdnet.dll
mcupdate_genuineintel.dll mcupdate_authenticamd.dll mcupdate.dll ci.dll clfs.sys tm.sys pshed.dll bootvid.dll
cmimcext.sys ntosext.sys werkernel.sys fltmgr.sys msrpc.sys ksecdd.sys cng.sys clipsp.sys wdf01000.sys wdfldr.sys
wfplwfs.sys acpiex.sys acpi.sys wmilib.sys msisadrv.sys pci.sys tpm.sys intelpep.sys amdpep.sys intelppm.sys amdppm.sys
amdk8.sys processr.sys pdc.sys cea.sys partmgr.sys spaceport.sys volmgr.sys volmgrx.sys mountmgr.sys storahci.sys
storport.sys stornvme.sys storufs.sys sdstor.sys sdbus.sys iastorv.sys msahci.sys pciidex.sys pciide.sys atapi.sys
ataport.sys intelide.sys amdsata.sys amdxata.sys nvraid.sys nvstor.sys lsi_sas.sys lsi_sas2i.sys lsi_sas3i.sys
megasas.sys megasas2i.sys percsas2i.sys percsas3i.sys vhdmp.sys vmbus.sys storvsc.sys netvsc.sys hyperkbd.sys hypervideo.sys
vmgid.sys vmgencounter.sys winhv.sys winhvr.sys hvsocket.sys vid.sys hvservice.sys hvix64.exe hvax64.exe
edevmon.sys fileinfo.sys wof.sys wcifs.sys cldflt.sys storqosflt.sys bindflt.sys ntfs.sys refs.sys refsv1.sys fastfat.sys
exfat.sys udfs.sys cdfs.sys npfs.sys msfs.sys fs_rec.sys rdbss.sys mrxsmb.sys mrxsmb10.sys mrxsmb20.sys srv.sys srv2.sys
srvnet.sys csc.sys dfsc.sys mup.sys nsiproxy.sys netio.sys tcpip.sys tcpipreg.sys afd.sys afunix.sys ndis.sys ndiswan.sys
ndistapi.sys ndisuio.sys ndiscap.sys ndproxy.sys netbt.sys netbios.sys wfplwf.sys fwpkclnt.sys pacer.sys vwififlt.sys
vwifibus.sys vwifimp.sys nwifi.sys wdiwifi.sys mslldp.sys lltdio.sys rspndr.sys raspppoe.sys raspptp.sys rasl2tp.sys
rassstp.sys rasagilevpn.sys wanarp.sys tdx.sys tdi.sys http.sys bowser.sys mpsdrv.sys wfpcapture.sys netadaptercx.sys
ndisvirtualbus.sys bridge.sys mbbcx.sys wmbclass.sys usbxhci.sys ucx01000.sys usbhub3.sys usbehci.sys usbport.sys
usbhub.sys usbuhci.sys usbohci.sys usbccgp.sys usbstor.sys uaspstor.sys usbprint.sys usbvideo.sys usbaudio.sys
usbaudio2.sys winusb.sys hidusb.sys hidclass.sys hidparse.sys hidi2c.sys hidinterrupt.sys kbdclass.sys kbdhid.sys
mouclass.sys mouhid.sys i8042prt.sys sermouse.sys serial.sys serenum.sys parport.sys umbus.sys umpass.sys
wudfrd.sys wudfpf.sys wdfldr.sys iorate.sys disk.sys classpnp.sys cdrom.sys partmgr.sys ehstorclass.sys
fvevol.sys rdyboost.sys volsnap.sys volume.sys iorate.sys dxgkrnl.sys dxgmms1.sys dxgmms2.sys watchdog.sys
basicdisplay.sys basicrender.sys monitor.sys cdd.dll win32k.sys win32kbase.sys win32kfull.sys win32kns.sys
tsddd.sys rdpbus.sys rdpdr.sys rdpvideominiport.sys terminpt.sys rdpwd.sys tdtcp.sys hdaudbus.sys hdaudio.sys
portcls.sys drmk.sys ks.sys ksthunk.sys mskssrv.sys mspclock.sys mspqm.sys swenum.sys wdmaud.sys
usbaudio.sys bthport.sys bthusb.sys bthenum.sys bthmini.sys bthpan.sys rfcomm.sys bthleenum.sys hidbth.sys
bthhfenum.sys bthmodem.sys bthaccel.sys wacompen.sys gpiobutton.sys msgpioclx.sys spbcx.sys serialcx.sys
uefi.sys cmbatt.sys battc.sys wmiacpi.sys acpitime.sys acpipagr.sys acpidev.sys intelpmax.sys hwpolicy.sys
condrv.sys null.sys beep.sys peauth.sys tcpipreg.sys afd.sys ahcache.sys csc.sys luafv.sys mmcss.sys
wcnfs.sys wtd.sys wd.sys wdboot.sys wdfilter.sys wdnisdrv.sys mpkslf.sys dam.sys bam.sys appid.sys
applockerfltr.sys filecrypt.sys fileinfo.sys gpuenergydrv.sys hvcrash.sys kbdhid.sys ksecpkg.sys
mssmbios.sys msiscsi.sys mskssrv.sys msquic.sys mslldp.sys mtconfig.sys ndu.sys npsvctrig.sys nvdimm.sys
pcw.sys pdc.sys prm.sys qwavedrv.sys sgrmagent.sys spaceport.sys spb.sys sysmon.sys tbs.sys umbus.sys
vdrvroot.sys vmbkmcl.sys vmbkmclr.sys vms3cap.sys vmswitch.sys vpci.sys vsmraid.sys wanarpv6.sys
wcifs.sys werkernel.sys wfplwfs.sys wimmount.sys wintun.sys wmiacpi.sys wof.sys ws2ifsl.sys xboxgip.sys
acpipmi.sys ibbus.sys mxlfltr.sys nvmedisk.sys storvsp.sys scmbus.sys pmem.sys intelpep.sys
bcmfn2.sys hyperv.sys mpsdrv.sys srvnet.sys tcpip6.sys lxss.sys lxcore.sys wsl.sys
cimfs.sys fsdepends.sys iastora.sys iastorav.sys storflt.sys vmstorfl.sys
`
