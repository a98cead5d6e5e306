package lint

import (
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// queueCallbacks maps the WDF_IO_QUEUE_CONFIG fields to the role of the
// routine stored in them.
var queueCallbacks = map[string]csrc.Role{
	"EvtIoDefault":                  "EVT_WDF_IO_QUEUE_IO_DEFAULT",
	"EvtIoRead":                     "EVT_WDF_IO_QUEUE_IO_READ",
	"EvtIoWrite":                    "EVT_WDF_IO_QUEUE_IO_WRITE",
	"EvtIoDeviceControl":            "EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL",
	"EvtIoInternalDeviceControl":    "EVT_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL",
	"EvtIoStop":                     "EVT_WDF_IO_QUEUE_IO_STOP",
	"EvtIoResume":                   "EVT_WDF_IO_QUEUE_IO_RESUME",
	"EvtIoCanceledOnQueue":          "EVT_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE",
	"EvtIoQueueState":               "EVT_WDF_IO_QUEUE_STATE",
	"EvtDriverDeviceAdd":            "EVT_WDF_DRIVER_DEVICE_ADD",
	"EvtDeviceFileCreate":           "EVT_WDF_DEVICE_FILE_CREATE",
	"EvtFileCleanup":                "EVT_WDF_FILE_CLEANUP",
	"EvtFileClose":                  "EVT_WDF_FILE_CLOSE",
	"EvtDeviceD0Entry":              "EVT_WDF_DEVICE_D0_ENTRY",
	"EvtDeviceD0Exit":               "EVT_WDF_DEVICE_D0_EXIT",
	"EvtDevicePrepareHardware":      "EVT_WDF_DEVICE_PREPARE_HARDWARE",
	"EvtDeviceReleaseHardware":      "EVT_WDF_DEVICE_RELEASE_HARDWARE",
	"EvtDeviceSelfManagedIoCleanup": "EVT_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP",
}

// inferQueueRoles adds the roles of routines stored in WDF configuration
// structures (config.EvtIoRead = MyRead): they tell a read callback from
// a stop callback when the file has no role declaration.
func (c *checker) inferQueueRoles() {
	for _, fn := range c.f.Funcs {
		for _, x := range fn.Exprs() {
			if x.Kind != csrc.EAssign || x.Op != "=" {
				continue
			}
			l, r := x.X.Strip(), x.Y.Strip()
			if l == nil || r == nil || l.Kind != csrc.EMember || r.Kind != csrc.EIdent {
				continue
			}
			role, ok := queueCallbacks[l.Name]
			if !ok {
				continue
			}
			if _, known := c.roles[r.Name]; !known {
				c.roles[r.Name] = role
			}
		}
	}
}

// checkStopAcknowledge: WdfRequestStopAcknowledge belongs in EvtIoStop.
func (c *checker) checkStopAcknowledge(s *callSite) {
	if s.call.Callee() != "WdfRequestStopAcknowledge" {
		return
	}
	role := c.roles[s.fn.Name]
	if role == "" || role == "EVT_WDF_IO_QUEUE_IO_STOP" || !strings.HasPrefix(string(role), "EVT_WDF_") {
		return // a helper: it may be called from EvtIoStop
	}
	c.report(RuleStopAckOutsideStop, s.fn, s.call.Pos, "WdfRequestStopAcknowledge is called in %s, an %s callback; the framework only accepts it for a request it passed to EvtIoStop", s.fn.Name, role)
}

// usesKMDF reports a file written against the framework: it calls a Wdf
// routine or declares a framework callback.
func (c *checker) usesKMDF() bool {
	for _, s := range c.sites {
		if strings.HasPrefix(s.call.Callee(), "Wdf") {
			return true
		}
	}
	for _, r := range c.roles {
		if strings.HasPrefix(string(r), "EVT_WDF_") {
			return true
		}
	}
	return false
}

// checkDriverCreate: a KMDF driver's DriverEntry must create the
// WDFDRIVER. It stays silent when DriverEntry fills in the WDM dispatch
// table itself, or hands the DRIVER_OBJECT (or stores it) where a routine
// this file cannot see may create the driver.
func (c *checker) checkDriverCreate(fn *csrc.Func) {
	if !isDriverEntry(c, fn) || fn.Body == nil || len(fn.Params) == 0 || !c.usesKMDF() {
		return
	}
	drvObj := fn.Params[0].Name
	if c.createsDriver(fn, drvObj, map[string]bool{}) {
		return
	}
	var last *csrc.Stmt
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		if s.Kind == csrc.SReturn {
			last = s
		}
		return true
	})
	at := fn.End
	if last != nil {
		at = last.Pos
	}
	c.report(RuleDriverNotCreated, fn, at, "%s returns without calling WdfDriverCreate: the framework never creates this driver's WDFDRIVER, so no EvtDriverDeviceAdd is registered and framework calls made for it fail or fault", fn.Name)
}

// createsDriver reports whether fn (or a function of this file it calls,
// with the driver object) may create the framework driver object.
func (c *checker) createsDriver(fn *csrc.Func, drvObj string, seen map[string]bool) bool {
	if seen[fn.Name] || len(seen) > 32 {
		return true
	}
	seen[fn.Name] = true
	for _, x := range fn.Exprs() {
		switch x.Kind {
		case csrc.ECall:
			name := x.Callee()
			if name == "WdfDriverCreate" {
				return true
			}
			if name == "" || exempt(name) || strings.HasPrefix(name, "WPP_") {
				continue
			}
			for i, a := range x.Args {
				if rootKey(a.Key()) != drvObj {
					continue
				}
				callee := c.funcs[name]
				if callee == nil || i >= len(callee.Params) {
					return true // unknown code gets the driver object
				}
				if c.createsDriver(callee, callee.Params[i].Name, seen) {
					return true
				}
			}
		case csrc.EAssign:
			l := x.X.Key()
			if strings.HasPrefix(l, drvObj+"->") {
				return true // fills in the WDM driver object itself
			}
			if rootKey(x.Y.Key()) == drvObj {
				return true // kept for later
			}
		}
	}
	return false
}
