package client

import "github.com/xebpf/xebpf/service/proto"

// HookRun runs the program of a sockhook link once for a call (the
// context is a struct bpf_sock_addr) on behalf of task.
func (c *Client) HookRun(link uint32, ctx []byte, task *proto.HookTask) (*proto.HookRunResult, error) {
	var r proto.HookRunResult
	if err := c.call(proto.OpHookRun, &proto.HookRunArgs{Link: link, Ctx: ctx, Task: task}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
