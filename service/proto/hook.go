package proto

// OpHookRun runs the program of a link of kind "sockhook" for one call a
// hooked process makes (xebpf exec --attach HOOK=pinned PATH): the
// program runs in the daemon, on its maps, and the run counts in prog
// show's run_cnt.
const OpHookRun = "hook.run"

// HookTask is the task a hook runs a program for: what the
// get_current_* helpers report.
type HookTask struct {
	PID  uint32 `json:"pid"`  // thread id
	TGID uint32 `json:"tgid"` // process id
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Comm []byte `json:"comm,omitempty"` // at most 16 bytes
}

// HookRunArgs runs the program of link Link once with the context Ctx
// (for the Linux socket hooks, the struct bpf_sock_addr; for eBPF for
// Windows' bind hook, the bind_md, whose app_id_start and app_id_end
// point into Data, the caller's app id).
type HookRunArgs struct {
	Link uint32    `json:"link"`
	Ctx  []byte    `json:"ctx"`
	Data []byte    `json:"data,omitempty"`
	Task *HookTask `json:"task,omitempty"`
}

// HookRunResult is the program's return value and the context it left.
type HookRunResult struct {
	Retval uint32 `json:"retval"`
	CtxOut []byte `json:"ctx_out"`
}
