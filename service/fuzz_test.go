package service_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"testing"

	"github.com/xebpf/xebpf/service/proto"
)

// FuzzRequests sends arbitrary request lines to a daemon holding a loaded
// XDP object, over one connection: every line gets one well-formed
// answer, and the daemon never fails or hangs up.
func FuzzRequests(f *testing.F) {
	obj := buildObject(f, "xdp_count")
	_, sock := startDaemon(f)
	loader := dial(f, sock)
	if _, err := loader.Load(&proto.LoadArgs{Object: obj, PinAllDir: "/sys/fs/bpf/p", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		f.Fatal(err)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, s := range []string{
		`{"op":"prog.run","args":{"ref":{"id":1},"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","repeat":3}}`,
		`{"op":"prog.run","args":{"ref":{"name":"xdp_count"},"ctx":"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`,
		`{"op":"map.update","args":{"ref":{"pinned":"/sys/fs/bpf/m/counts"},"key":"AQAAAA==","value":"AQAAAAAAAAA=","flags":1}}`,
		`{"op":"map.update","args":{"ref":{"pinned":"/sys/fs/bpf/m/totals"},"key":"AAAAAA==","value":"AQAAAAAAAAA="}}`,
		`{"op":"map.getnext","args":{"ref":{"id":1}}}`,
		`{"op":"map.dump","args":{"ref":{"id":2}}}`,
		`{"op":"prog.pin","args":{"ref":{"id":2},"path":"/sys/fs/bpf/q"}}`,
		`{"op":"unpin","args":{"path":"/sys/fs/bpf/p/xdp_drop"}}`,
		`{"op":"map.create","args":{"path":"/sys/fs/bpf/n","type":"lru_hash","key_size":8,"value_size":16,"max_entries":4,"name":"n"}}`,
		`{"op":"map.create","args":{"path":"/sys/fs/bpf/n2","type":"array","key_size":4,"value_size":4294967295,"max_entries":4294967295,"name":"n"}}`,
		`{"op":"prog.load","args":{"object":"f0VMRgIBAQAAAAAAAAAAAAEA9wABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAEAAAQAAQA=="}}`,
		`{"op":"release","args":{"kind":"map","id":1}}`,
		`{"op":"link.attach","args":{"kind":"xdp","prog":{"id":1},"target":"eth0"}}`,
		`{"op":"status"}`,
		// A map as the value of a map that is no map of maps, of itself,
		// of a map that does not exist; a pop of a hash; templates of
		// maps of maps that are wrong or missing.
		`{"op":"map.update","args":{"ref":{"id":1},"key":"AQAAAA==","value_map":{"id":1}}}`,
		`{"op":"map.update","args":{"ref":{"id":2},"key":"AQAAAA==","value_map":{"id":4000000000}}}`,
		`{"op":"map.pop","args":{"ref":{"pinned":"/sys/fs/bpf/m/counts"}}}`,
		`{"op":"map.pop","args":{"ref":{"id":1},"key":"AQAAAA=="}}`,
		`{"op":"map.create","args":{"path":"/sys/fs/bpf/mm","type":"array_of_maps","key_size":4,"value_size":4,"max_entries":4,"name":"mm","inner_map":{"id":1}}}`,
		`{"op":"map.create","args":{"path":"/sys/fs/bpf/mm2","type":"hash_of_maps","key_size":4,"value_size":4,"max_entries":4,"name":"mm2"}}`,
		`{"op":"map.create","args":{"path":"/sys/fs/bpf/mm3","type":"hash","key_size":4,"value_size":4,"max_entries":4,"name":"mm3","inner_map":{"pinned":"/sys/fs/bpf/mm"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.ReplaceAll(line, []byte("\n"), nil)
		if _, err := conn.Write(append(line, '\n')); err != nil {
			t.Fatalf("write: %v", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return // blank lines get no answer
		}
		resp, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("%q: the daemon hung up: %v", line, err)
		}
		var pr proto.Response
		if err := json.Unmarshal(resp, &pr); err != nil || (pr.Error == nil) == (pr.Result == nil) {
			t.Fatalf("%q: answer %q (%v), want a result or an error", line, resp, err)
		}
	})
}
