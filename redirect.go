package xebpf

import "github.com/xebpf/xebpf/helpers"

// Redirect returns where the runner's last successful run asked its
// packet to go: the target bpf_redirect or bpf_redirect_map recorded,
// like the kernel's struct bpf_redirect_info after an XDP or tc program.
// Its Kind is helpers.RedirectNone when the run recorded none (also when
// a redirect_map lookup missed and the program got the fallback action).
// Hooks that deliver packets (package hooks/xdp) read it after a run that
// returned XDP_REDIRECT or TC_ACT_REDIRECT.
func (r *Runner) Redirect() helpers.Redirect { return r.rs.redirect }
