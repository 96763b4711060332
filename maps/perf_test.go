package maps

import "testing"

func TestPerfEventOutputProgramSide(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerfEventArray, KeySize: 4, ValueSize: 4}).(*PerfEventArrayMap)
	if m.MaxEntries() != NumCPU() {
		t.Fatalf("MaxEntries defaults to %d, want NumCPU %d", m.MaxEntries(), NumCPU())
	}
	if err := m.Attach(4096); err != nil {
		t.Fatal(err)
	}
	s := newScratch(t, 64)
	d := s.put(0, []byte("sample"))
	cpu := NumCPU() - 1
	if got := m.Output(cpu, PerfCurrentCPU, d, 6); got != 0 {
		t.Fatalf("Output(BPF_F_CURRENT_CPU) = %d", got)
	}
	if got := m.Output(0, 1<<63, d, 6); got != -int64(EINVAL) {
		t.Fatalf("Output with bad flags = %d, want -EINVAL", got)
	}
	var es []Entry
	m.Iterate(func(e Entry) bool { es = append(es, e); return true })
	if len(es) != 1 || es[0].CPU != cpu || string(es[0].Value) != "sample" {
		t.Fatalf("Iterate = %+v", es)
	}
	buf := make([]byte, 0, 64)
	c, got, lost, ok := m.Next(buf)
	if !ok || c != cpu || lost != 0 || string(got) != "sample" {
		t.Fatalf("Next = %d %q %d %v", c, got, lost, ok)
	}
	checkNoAllocs(t, "perf event output", func() {
		m.Output(cpu, PerfCurrentCPU, d, 6)
		_, buf, _, _ = m.Next(buf[:0])
	})
}
