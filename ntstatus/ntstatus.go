// Package ntstatus names the NTSTATUS values that show up in crashes:
// exception codes in bug check parameters and exception records, and the
// I/O status codes some bug checks carry. The names are those of the
// Windows SDK's ntstatus.h; the descriptions are our own short wording.
package ntstatus

type entry struct{ name, text string }

var table = map[uint32]entry{
	0x00000000: {"STATUS_SUCCESS", "success"},
	0x00000102: {"STATUS_TIMEOUT", "the wait timed out"},
	0x00000103: {"STATUS_PENDING", "the operation is still in progress"},
	0x80000001: {"STATUS_GUARD_PAGE_VIOLATION", "a guard page was touched"},
	0x80000002: {"STATUS_DATATYPE_MISALIGNMENT", "misaligned data access"},
	0x80000003: {"STATUS_BREAKPOINT", "a breakpoint was hit"},
	0x80000004: {"STATUS_SINGLE_STEP", "single-step trap"},
	0x80000005: {"STATUS_BUFFER_OVERFLOW", "the buffer was too small; data was cut"},
	0x80000026: {"STATUS_LONGJUMP", "a long jump was executed"},
	0x80000029: {"STATUS_UNWIND_CONSOLIDATE", "frame consolidation during unwind"},
	0xC0000001: {"STATUS_UNSUCCESSFUL", "the operation failed"},
	0xC0000002: {"STATUS_NOT_IMPLEMENTED", "the function is not implemented"},
	0xC0000005: {"STATUS_ACCESS_VIOLATION", "invalid memory access"},
	0xC0000006: {"STATUS_IN_PAGE_ERROR", "a page could not be read in from disk"},
	0xC0000008: {"STATUS_INVALID_HANDLE", "an invalid handle was used"},
	0xC000000D: {"STATUS_INVALID_PARAMETER", "an invalid parameter was passed"},
	0xC000000E: {"STATUS_NO_SUCH_DEVICE", "the device does not exist"},
	0xC0000010: {"STATUS_INVALID_DEVICE_REQUEST", "the request is not valid for this device"},
	0xC0000011: {"STATUS_END_OF_FILE", "end of file"},
	0xC0000013: {"STATUS_NO_MEDIA_IN_DEVICE", "no media in the device"},
	0xC0000017: {"STATUS_NO_MEMORY", "not enough virtual memory or paging file"},
	0xC000001D: {"STATUS_ILLEGAL_INSTRUCTION", "an illegal instruction was executed"},
	0xC0000022: {"STATUS_ACCESS_DENIED", "access denied"},
	0xC0000023: {"STATUS_BUFFER_TOO_SMALL", "the buffer is too small"},
	0xC0000024: {"STATUS_OBJECT_TYPE_MISMATCH", "the object is of the wrong type"},
	0xC0000025: {"STATUS_NONCONTINUABLE_EXCEPTION", "execution continued after a noncontinuable exception"},
	0xC0000026: {"STATUS_INVALID_DISPOSITION", "an exception handler returned an invalid disposition"},
	0xC0000034: {"STATUS_OBJECT_NAME_NOT_FOUND", "the object name was not found"},
	0xC000003A: {"STATUS_OBJECT_PATH_NOT_FOUND", "the object path was not found"},
	0xC0000043: {"STATUS_SHARING_VIOLATION", "sharing violation"},
	0xC0000044: {"STATUS_QUOTA_EXCEEDED", "quota exceeded"},
	0xC0000054: {"STATUS_FILE_LOCK_CONFLICT", "file lock conflict"},
	0xC000007F: {"STATUS_DISK_FULL", "the disk is full"},
	0xC000008C: {"STATUS_ARRAY_BOUNDS_EXCEEDED", "array index out of bounds"},
	0xC000008D: {"STATUS_FLOAT_DENORMAL_OPERAND", "floating-point denormal operand"},
	0xC000008E: {"STATUS_FLOAT_DIVIDE_BY_ZERO", "floating-point division by zero"},
	0xC000008F: {"STATUS_FLOAT_INEXACT_RESULT", "floating-point inexact result"},
	0xC0000090: {"STATUS_FLOAT_INVALID_OPERATION", "invalid floating-point operation"},
	0xC0000091: {"STATUS_FLOAT_OVERFLOW", "floating-point overflow"},
	0xC0000092: {"STATUS_FLOAT_STACK_CHECK", "floating-point stack check"},
	0xC0000093: {"STATUS_FLOAT_UNDERFLOW", "floating-point underflow"},
	0xC0000094: {"STATUS_INTEGER_DIVIDE_BY_ZERO", "integer division by zero"},
	0xC0000095: {"STATUS_INTEGER_OVERFLOW", "integer overflow"},
	0xC0000096: {"STATUS_PRIVILEGED_INSTRUCTION", "a privileged instruction was executed"},
	0xC000009A: {"STATUS_INSUFFICIENT_RESOURCES", "not enough system resources (often pool memory)"},
	0xC000009C: {"STATUS_DEVICE_DATA_ERROR", "the device reported a data error (bad sectors)"},
	0xC000009D: {"STATUS_DEVICE_NOT_CONNECTED", "the device is not connected"},
	0xC00000A2: {"STATUS_MEDIA_WRITE_PROTECTED", "the media is write-protected"},
	0xC00000B5: {"STATUS_IO_TIMEOUT", "the device did not answer in time"},
	0xC00000BB: {"STATUS_NOT_SUPPORTED", "the request is not supported"},
	0xC00000C0: {"STATUS_DEVICE_DOES_NOT_EXIST", "the device does not exist"},
	0xC00000E9: {"STATUS_UNEXPECTED_IO_ERROR", "unexpected I/O error"},
	0xC00000FD: {"STATUS_STACK_OVERFLOW", "the stack overflowed"},
	0xC0000102: {"STATUS_FILE_CORRUPT_ERROR", "the file or directory is corrupt"},
	0xC0000120: {"STATUS_CANCELLED", "the I/O request was cancelled"},
	0xC0000135: {"STATUS_DLL_NOT_FOUND", "a DLL was not found"},
	0xC0000142: {"STATUS_DLL_INIT_FAILED", "a DLL failed to initialise"},
	0xC0000185: {"STATUS_IO_DEVICE_ERROR", "I/O device error"},
	0xC000018B: {"STATUS_NO_TRUST_SAM_ACCOUNT", "no trust account for this workstation"},
	0xC0000194: {"STATUS_POSSIBLE_DEADLOCK", "possible deadlock"},
	0xC000021A: {"STATUS_SYSTEM_PROCESS_TERMINATED", "a critical system process ended"},
	0xC0000221: {"STATUS_IMAGE_CHECKSUM_MISMATCH", "an image's checksum does not match"},
	0xC0000235: {"STATUS_HANDLE_NOT_CLOSABLE", "a protected handle was closed"},
	0xC000026E: {"STATUS_VOLUME_DISMOUNTED", "the volume was dismounted"},
	0xC0000374: {"STATUS_HEAP_CORRUPTION", "heap corruption"},
	0xC0000409: {"STATUS_STACK_BUFFER_OVERRUN", "a stack buffer overrun, or a fail-fast check, was detected"},
	0xC0000417: {"STATUS_INVALID_CRUNTIME_PARAMETER", "invalid C runtime parameter"},
	0xC0000420: {"STATUS_ASSERTION_FAILURE", "an assertion failed"},
	0xC0000421: {"STATUS_VERIFIER_STOP", "Application Verifier stopped the process"},
	0xC0000428: {"STATUS_INVALID_IMAGE_HASH", "the image's signature is not valid"},
	0xC0000602: {"STATUS_FAIL_FAST_EXCEPTION", "fail-fast exception"},
	0xC000070A: {"STATUS_THREADPOOL_HANDLE_EXCEPTION", "thread pool handle exception"},
	0xC0000906: {"STATUS_VIRUS_DELETED", "the file was deleted as a virus"},
	0xC00002C5: {"STATUS_DATATYPE_MISALIGNMENT_ERROR", "misaligned data access"},
	0xC00002C9: {"STATUS_REG_NAT_CONSUMPTION", "register NaT consumption"},
	0xC000014B: {"STATUS_PIPE_BROKEN", "the pipe was broken"},
	0xC000014C: {"STATUS_REGISTRY_CORRUPT", "the registry is corrupt"},
	0xC000014D: {"STATUS_REGISTRY_IO_FAILED", "a registry I/O failed"},
	0xC0000218: {"STATUS_CANNOT_LOAD_REGISTRY_FILE", "a registry hive could not be loaded"},
	0xC000001C: {"STATUS_INVALID_SYSTEM_SERVICE", "invalid system service"},
	0xC0000279: {"STATUS_IO_REPARSE_TAG_NOT_HANDLED", "reparse tag not handled"},
	0xC00002B4: {"STATUS_FLOAT_MULTIPLE_FAULTS", "multiple floating-point faults"},
	0xC00002B5: {"STATUS_FLOAT_MULTIPLE_TRAPS", "multiple floating-point traps"},
	0xC0000300: {"STATUS_NOT_SUPPORTED_ON_SBS", "not supported on Small Business Server"},
	0xE06D7363: {"EH_EXCEPTION_NUMBER", "a C++ exception (throw) was not caught"},
}

// Name returns the symbolic name of an NTSTATUS value, or "" when unknown.
func Name(code uint32) string { return table[code].name }

// Describe returns a short description, or "" when unknown.
func Describe(code uint32) string { return table[code].text }

// AccessViolationKind decodes the first parameter of an access violation
// (or in-page error) exception: "read", "write" or "execute"; "" otherwise.
func AccessViolationKind(p0 uint64) string {
	switch p0 {
	case 0:
		return "read"
	case 1:
		return "write"
	case 8:
		return "execute"
	}
	return ""
}
