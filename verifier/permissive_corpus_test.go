package verifier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/maps"
)

// skbLayout is struct __sk_buff's pointer fields and size, enough to find
// every packet-pointer load of the corpus.
var skbLayout = &ctxaccess.Layout{Name: "__sk_buff", Size: 192, Fields: func() []ctxaccess.Field {
	var fs []ctxaccess.Field
	for off := 0; off < 192; off += 4 {
		switch off {
		case 76:
			fs = append(fs, ctxaccess.Field{Name: "data", Offset: 76, Size: 4, Kind: ctxaccess.PacketStart})
		case 80:
			fs = append(fs, ctxaccess.Field{Name: "data_end", Offset: 80, Size: 4, Kind: ctxaccess.PacketEnd})
		case 140:
			fs = append(fs, ctxaccess.Field{Name: "data_meta", Offset: 140, Size: 4, Kind: ctxaccess.PacketMeta})
		default:
			fs = append(fs, ctxaccess.Field{Name: "f", Offset: off, Size: 4, Writable: true})
		}
	}
	return fs
}()}

// TestCorpusContextAccesses runs the permissive analysis and context
// rewriting over every XDP and skb program of the corpus (the accepted
// and the rejected): each must be rewritable, as Linux accepts them, and
// for the programs Verify accepts the facts must be Verify's.
func TestCorpusContextAccesses(t *testing.T) {
	root := filepath.Join("..", "..", "shared", "corpus")
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
	checked, loaded, verified, rejected := 0, 0, 0, 0
	for _, f := range files {
		spec, err := elf.LoadCollectionSpec(f)
		if err != nil {
			continue // the loader's own tests cover load failures
		}
		loaded++
		var ms []*Map
		for _, name := range spec.MapOrder {
			m := spec.Maps[name]
			ms = append(ms, &Map{Name: name, Type: maps.Type(m.Type), KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries, SpinLock: -1})
		}
		for name, p := range spec.Programs {
			var l *ctxaccess.Layout
			switch p.Type {
			case elf.XDP:
				l = xdpContext
			case elf.SocketFilter, elf.SchedCLS, elf.SchedACT, elf.CGroupSKB:
				l = skbLayout
			default:
				continue
			}
			checked++
			cfg := &Config{Context: l, PacketWritable: true, Helper: linuxHelper, Maps: ms}
			facts, err := Analyze(p.Instructions, cfg)
			if err == nil {
				_, err = facts.RewriteContext(p.Instructions, l)
			}
			if err != nil {
				t.Errorf("%s: %s (%s): %v", f, name, p.Type, err)
				continue
			}
			if vp, err := Verify(p.Instructions, cfg); err == nil {
				verified++
				if !equalAccesses(vp.ContextAccesses(), facts.ContextAccesses()) || len(facts.Rejections()) != 0 {
					t.Errorf("%s: %s: permissive accesses %v and %d rejections, Verify's %v", f, name, facts.ContextAccesses(), len(facts.Rejections()), vp.ContextAccesses())
				}
			} else if len(facts.Rejections()) > 0 {
				rejected++
			}
		}
	}
	t.Logf("checked %d programs of %d objects: %d verified, %d with failed checks", checked, loaded, verified, rejected)
	// Floors, measured on ../shared/corpus: fewer means objects or
	// programs silently fell out of the check.
	const minObjects, minPrograms = 145, 73
	if loaded < minObjects || checked < minPrograms {
		t.Errorf("checked %d XDP and skb programs of %d objects: want at least %d of %d", checked, loaded, minPrograms, minObjects)
	}
}
