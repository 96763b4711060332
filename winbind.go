package xebpf

// BindMD is eBPF for Windows' bind_md_t, the context of its bind hook
// (include/ebpf_nethooks.h), in its layout: a RunOptions.ContextOut. The
// program reads the app id (on Windows, the application's path in
// UTF-16) between app_id_start and app_id_end: RunOptions.Data holds it.
type BindMD struct {
	AppIDStart          uint64   // pointer to the app id's first byte
	AppIDEnd            uint64   // pointer one past its last byte
	ProcessID           uint64   // the process binding
	SocketAddress       [16]byte // the sockaddr's first 16 bytes
	SocketAddressLength uint8    // the sockaddr's length in bytes
	_                   [3]byte
	Operation           uint32 // BindOperationBind, PostBind or Unbind
	Protocol            uint8  // IPPROTO_TCP, IPPROTO_UDP
	_                   [7]byte
}

// BindMDSize is the size of bind_md_t.
const BindMDSize = 56

// bind_operation_t values.
const (
	BindOperationBind     = 0 // entry to bind
	BindOperationPostBind = 1 // after port allocation
	BindOperationUnbind   = 2 // release of the port
)

// bind_action_t values, what bind programs return.
const (
	BindPermit   = 0 // the bind goes on
	BindDeny     = 1 // the bind fails
	BindRedirect = 2 // the bind goes on with the socket_address the program left
)

func bindResult(ret uint32) string {
	switch ret {
	case BindPermit:
		return "BIND_PERMIT"
	case BindDeny:
		return "BIND_DENY"
	case BindRedirect:
		return "BIND_REDIRECT"
	}
	return ""
}

// winBindKind is eBPF for Windows' bind program type. socket_address is
// writable for BIND_REDIRECT. Its helpers are the map helpers, whose ids
// (1 to 3) eBPF for Windows shares with Linux; its other helpers have ids
// of their own, which xebpf does not offer.
var winBindKind = &ProgramKind{Name: "bind", Context: &Context{Name: "bind_md", Size: BindMDSize, Fields: []ContextField{
	{Name: "app_id_start", Offset: 0, Size: 8, Kind: PacketStart},
	{Name: "app_id_end", Offset: 8, Size: 8, Kind: PacketEnd},
	{Name: "process_id", Offset: 16, Size: 8},
	{Name: "socket_address", Offset: 24, Size: 16, Writable: true},
	{Name: "socket_address_length", Offset: 40, Size: 1},
	{Name: "operation", Offset: 44, Size: 4},
	{Name: "protocol", Offset: 48, Size: 1},
}}, LinuxHelpers: allowOnly([]int32{1, 2, 3}), Returns: &[2]uint32{BindPermit, BindRedirect}, Result: bindResult}

// WindowsBindKind returns the kind of eBPF for Windows' bind programs
// (EBPF_PROGRAM_TYPE_BIND, section "bind"): a bind_md_t, BIND_PERMIT,
// BIND_DENY or BIND_REDIRECT, and the map helpers. The result is a copy
// the caller may change.
func WindowsBindKind() *ProgramKind { return winBindKind.clone() }
