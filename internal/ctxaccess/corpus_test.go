package ctxaccess

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/elf"
)

// skbLayout is struct __sk_buff's pointer fields and size, enough to find
// every packet-pointer load of the corpus.
var skbLayout = &Layout{Name: "__sk_buff", Size: 192, Fields: func() []Field {
	var fs []Field
	for off := 0; off < 192; off += 4 {
		switch off {
		case 76:
			fs = append(fs, Field{Name: "data", Offset: 76, Size: 4, Kind: PacketStart})
		case 80:
			fs = append(fs, Field{Name: "data_end", Offset: 80, Size: 4, Kind: PacketEnd})
		case 140:
			fs = append(fs, Field{Name: "data_meta", Offset: 140, Size: 4, Kind: PacketMeta})
		default:
			fs = append(fs, Field{Name: "f", Offset: off, Size: 4, Writable: true})
		}
	}
	return fs
}()}

// TestCorpusContextAccesses runs the analysis over every XDP and skb
// program of the corpus: each must be accepted, as Linux accepts them.
func TestCorpusContextAccesses(t *testing.T) {
	root := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("corpus not found at %s: ../shared is absent", root)
	}
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".o") && !strings.Contains(p, "invalid") {
			files = append(files, p)
		}
		return nil
	})
	checked, loaded := 0, 0
	for _, f := range files {
		spec, err := elf.LoadCollectionSpec(f)
		if err != nil {
			continue // the loader's own tests cover load failures
		}
		loaded++
		for name, p := range spec.Programs {
			var l *Layout
			switch p.Type {
			case elf.XDP:
				l = &Layout{Name: "xdp_md", Size: 24, Fields: []Field{
					{Name: "data", Offset: 0, Size: 4, Kind: PacketStart},
					{Name: "data_end", Offset: 4, Size: 4, Kind: PacketEnd},
					{Name: "data_meta", Offset: 8, Size: 4, Kind: PacketMeta},
					{Name: "ingress_ifindex", Offset: 12, Size: 4},
					{Name: "rx_queue_index", Offset: 16, Size: 4},
					{Name: "egress_ifindex", Offset: 20, Size: 4},
				}}
			case elf.SocketFilter, elf.SchedCLS, elf.SchedACT, elf.CGroupSKB:
				l = skbLayout
			default:
				continue
			}
			checked++
			if _, err := Rewrite(p.Instructions, l); err != nil {
				t.Errorf("%s: %s (%s): %v", f, name, p.Type, err)
			}
		}
	}
	t.Logf("checked %d programs of %d objects", checked, loaded)
	// Floors, measured on ../shared/corpus: fewer means objects or
	// programs silently fell out of the check.
	const minObjects, minPrograms = 145, 73
	if loaded < minObjects || checked < minPrograms {
		t.Errorf("checked %d XDP and skb programs of %d objects: want at least %d of %d", checked, loaded, minPrograms, minObjects)
	}
}
