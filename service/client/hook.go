package client

import "github.com/xebpf/xebpf/service/proto"

// HookRun runs the program of a sockhook link once for a call on behalf
// of task: ctx is a struct bpf_sock_addr, or for eBPF for Windows' bind
// hook a bind_md with data the app id it points into (nil otherwise).
func (c *Client) HookRun(link uint32, ctx, data []byte, task *proto.HookTask) (*proto.HookRunResult, error) {
	var r proto.HookRunResult
	if err := c.call(proto.OpHookRun, &proto.HookRunArgs{Link: link, Ctx: ctx, Data: data, Task: task}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
