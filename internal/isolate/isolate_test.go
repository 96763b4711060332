package isolate

import (
	"runtime"
	"strings"
	"testing"
)

// TestTailKeepsTheCause checks that a child's long crash output keeps its
// first lines, where Go says what happened, and its last ones.
func TestTailKeepsTheCause(t *testing.T) {
	tl := &tail{max: 1024}
	tl.Write([]byte("fatal error: runtime: cannot allocate memory\n"))
	for range 1000 {
		tl.Write([]byte("goroutine dump line\n"))
	}
	tl.Write([]byte("last line\n"))
	s := tl.String()
	if !outOfMemory(s) || !strings.HasSuffix(s, "last line\n") || len(s) > 1024+256 {
		t.Errorf("tail lost the cause or the end (%d bytes): %.80q ... %.40q", len(s), s, s[max(0, len(s)-40):])
	}
	if l := crashLine(s); l != "fatal error: runtime: cannot allocate memory" {
		t.Errorf("crashLine = %q", l)
	}
	if l := crashLine("a\nb\n"); l != "b" {
		t.Errorf("crashLine without a Go crash = %q, want the last line", l)
	}
}

func TestPeakMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak memory is read on Linux only")
	}
	if kb := PeakMemoryKB(); kb < 512 || kb > 1<<24 {
		t.Errorf("PeakMemoryKB = %d", kb)
	}
}
