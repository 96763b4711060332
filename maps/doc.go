package maps

// Differences from Linux, on purpose:
//
//   - Released hash and LPM slots are reused only after every run that
//     entered the Epoch before the release has exited (Linux preallocated
//     hash maps reuse freed elements at once). Hash maps keep
//     min(max(MaxEntries, 8), 4096) spare slots for this; when every spare
//     slot is still held, a replacement is written in place and an insert
//     takes the oldest released slot early, as Linux would, rather than fail.
//   - Hash and LRU updates of an existing key write a new element and
//     retire the old one (as Linux does), so the value address changes;
//     per-CPU maps and BPF_F_LOCK updates write in place (as Linux does).
//   - LRU maps approximate least-recently-used order with a CLOCK sweep
//     over reference bits set by lookups, instead of Linux's per-CPU
//     active/inactive lists. Updates of a full LRU map evict and succeed.
//   - RingBuf cannot map its data pages twice, so a record that would wrap
//     around the end is placed at offset 0 behind a discarded padding
//     record that fills the tail; Linux consumers skip it.
//   - PerfEventArray buffers come from the reader (Attach), as perf events
//     do on Linux; outputs to an index without a buffer are -ENOENT. The
//     event's CPU need not match the running CPU.
//   - ProgramArray slots and map-in-map elements are set from Go with
//     SetProgram and SetMap (there are no file descriptors); the Go-side
//     Lookup of a map-in-map reports the inner map's ID as Linux does.
//   - Spec.SpinLockOffset 0 means "no lock" unless HasSpinLock is set, so
//     that a zero Spec has no lock word.
//   - Iterate reports hash maps sorted by key bytes and LPM tries in
//     get_next_key order, to give dumps a deterministic order.
//   - DevMap, DevMapHash, CPUMap, XSKMap and CgroupArray hold no kernel
//     objects: a DevMap value's ifindex is stored without checking that a
//     device exists (Linux: EINVAL), XSKMap and CgroupArray values are
//     opaque 32-bit handles instead of socket and cgroup fds (Linux:
//     EBADF or ENOTSOCK for fds that are not ones), and a program fd in a
//     DevMap or CPUMap value is ErrNotSupported. Their values are
//     read-only for programs (Region.ReadOnly), as Linux's
//     BPF_F_RDONLY_PROG makes them.
//   - CPUMap's limit is CPUMapMaxEntries (NR_CPUS, a kernel build
//     option); its keys must be CPUs below NumCPU (Linux: possible CPUs).
//   - StackTrace maps stay empty: there are no call stacks to record.
//   - LPM updates and PerfEventArray attach allocate on the Go heap; the
//     other program-side operations do not allocate.
