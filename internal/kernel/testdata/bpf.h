/* The test programs of package kernel use the project's shared
 * declarations (include/xebpf/bpf.h) and are all GPL. */
#include "xebpf/bpf.h"

char LICENSE[] SEC("license") = "GPL";
