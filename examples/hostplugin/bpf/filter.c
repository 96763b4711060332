// filter is a request filter plug-in for a Go daemon (see main.go): the
// daemon defines struct request, the helper host_tokens and the meaning of
// the return value; xebpf runs the program safely inside the daemon.
//
// Rebuild from the repository root:
//   clang-19 -target bpf -O2 -g -I include -c examples/hostplugin/bpf/filter.c -o examples/hostplugin/bpf/filter.o
#include "xebpf/bpf.h"

enum { METHOD_GET = 1, METHOD_POST = 2 };
enum { ALLOW = 0, DENY = 1, THROTTLE = 2 };

struct request {
	__u32 method;
	__u32 client_ip;
	__u32 path;     /* address of the first byte of the path */
	__u32 path_end; /* address one past its last byte */
	__u32 status;   /* the plug-in may set the HTTP status of a refusal */
};

/* host_tokens takes a token from the client's bucket and returns how many
 * are left, or -1 if none was left. Defined by the daemon. */
static long (*host_tokens)(__u32 client_ip) = (void *)1000;

SEC("plugin")
int filter(struct request *req)
{
	char *path = (char *)(long)req->path;
	char *end = (char *)(long)req->path_end;

	if (path + 6 <= end && path[0] == '/' && path[1] == 'a' && path[2] == 'd' &&
	    path[3] == 'm' && path[4] == 'i' && path[5] == 'n' && req->method != METHOD_GET) {
		req->status = 403;
		return DENY;
	}
	if (host_tokens(req->client_ip) < 0) {
		req->status = 429;
		return THROTTLE;
	}
	return ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
