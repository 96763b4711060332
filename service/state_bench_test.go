package service_test

import (
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// BenchmarkDurability measures what durability costs a client: a map
// update through the daemon (volatile: in memory; durable: journaled and
// synced before the reply) and a prog run of a program using two pinned
// maps (durable: both snapshotted before the reply).
func BenchmarkDurability(b *testing.B) {
	obj := buildObject(b, "xdp_count")
	for _, mode := range []string{"volatile", "durable"} {
		var configure []func(*service.Daemon)
		if mode == "durable" {
			dir := filepath.Join(b.TempDir(), "state")
			configure = append(configure, func(d *service.Daemon) {
				if err := d.OpenState(dir, &service.StateOptions{SnapshotEvery: -1}); err != nil {
					b.Fatal(err)
				}
			})
		}
		_, sock := startDaemon(b, configure...)
		c := dial(b, sock)
		if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/p", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.CreateMap(&proto.MapCreateArgs{Path: "/sys/fs/bpf/h", Type: "hash", Name: "h", KeySize: 4, ValueSize: 8, MaxEntries: 1024}); err != nil {
			b.Fatal(err)
		}
		h := proto.Ref{Pinned: "/sys/fs/bpf/h"}
		b.Run("MapUpdate/"+mode, func(b *testing.B) {
			for i := range b.N {
				if err := c.Update(h, u32(uint32(i%1024)), u64(uint64(i)), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Clients updating one map at once: the journal's syncs are
		// shared (group commit).
		b.Run("MapUpdateParallel8/"+mode, func(b *testing.B) {
			b.SetParallelism(4) // 8 clients on 2 CPUs
			var next atomic.Uint32
			b.RunParallel(func(pb *testing.PB) {
				c := dial(b, sock)
				k := next.Add(1) * 64
				i := uint32(0)
				for pb.Next() {
					if err := c.Update(h, u32(k+i%64), u64(uint64(i)), 0); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		run := &proto.RunArgs{Ref: proto.Ref{Pinned: "/sys/fs/bpf/p"}, Data: make([]byte, 64)}
		b.Run("ProgRun/"+mode, func(b *testing.B) {
			for range b.N {
				if _, err := c.Run(run); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
