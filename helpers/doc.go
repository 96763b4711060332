// Package helpers implements Linux's eBPF helper functions for the xebpf
// interpreter, under their Linux ids and names, each with the prototype a
// verifier checks calls against.
//
// A run's helper state is a *Run placed in api.Env.Context: the CPU
// index for per-CPU maps, the MapTable that turns map pointers back into
// maps, the trace writer, the clock, the current task, the probe-read
// policy and the packet of packet programs. Helpers see the run through
// an api.HelperCall and never import the interpreter; bpf_tail_call
// continues with the api.Program a ProgramArray slot holds.
//
// Helpers read and write program memory only through
// api.HelperCall.ArgMemory, so checked runs fault on a pointer argument
// that does not cover the memory within its own object (a map value, a
// stack frame, a ring buffer record). Map pointers must be the handles the
// program loaded or a lookup returned (ArgHandle); the pointers helpers
// return are registered objects of exactly the memory they stand for (one
// value of one map, for the run's CPU; one record). A run holds at most
// one bpf_spin_lock, only on a map value's bpf_spin_lock field and calling
// no other helper until it is released; Run.Release frees what a run left
// held (a lock, unsubmitted records). What Linux's verifier would reject
// (an unknown map pointer, the wrong map type, a context that is not the
// packet's) ends the run with an error in every mode. What Linux reports
// to the program (a missing key, a full ring buffer, a packet pointer out
// of bounds) comes back as -errno in r0.
//
// The skb helpers (skb_store_bytes, the csum_replace helpers,
// get_hash_recalc, set_hash, skb_change_type, ...) follow a
// BPF_PROG_TEST_RUN skb: linear, CHECKSUM_NONE, with a socket owned by uid
// 0; they keep the pkt_type and hash fields of the __sk_buff context
// (Packet.Ctx) up to date. The helpers that move or resize the packet
// (skb_change_proto/tail/head, skb_adjust_room, skb_vlan_push/pop) keep
// the packet's bounds (Go-side: Packet.SetBounds), the context's packet
// words, len, protocol and vlan_* fields, the LD_ABS packet and the packet
// region in Env.Regions consistent (moving the region, which kills the
// program's old packet pointers), within the frame
// [Packet.HardStart, Packet.HardEnd) (see skbroom.go for where that frame
// is smaller than Linux's reallocated skb).
//
// A Run's Devices and FIB stand for the host's network devices and
// routing table (bpf_clone_redirect, bpf_fib_lookup); without them the
// host has the loopback device alone, with forwarding disabled.
//
// The runtime gives lddw map references the MapTable's handles
// (MapTable.Handle, interp.Config.Pointers), sets the packet's bounds
// with Packet.SetBounds, and calls Run.Release and Run.Reset between runs.
package helpers
