package service

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// WriteMetrics writes the daemon's metrics in the Prometheus text format:
// each program's run_cnt and run_time_ns, each map's entries and
// max_entries, and the daemon's totals.
func (d *Daemon) WriteMetrics(w io.Writer) error {
	t := d.t
	type progRow struct {
		labels  string
		runs, n uint64
	}
	type mapRow struct {
		labels string
		m      *mapObj
	}
	t.mu.Lock()
	ps, _ := t.findProgs(zeroRef)
	ms, _ := t.findMaps(zeroRef)
	prows := make([]progRow, 0, len(ps))
	for _, p := range ps {
		runs, ns := p.stats.Count()
		prows = append(prows, progRow{labels(p.id, p.name, progTypeOf(p.p)), runs, ns})
	}
	mrows := make([]mapRow, 0, len(ms))
	for _, m := range ms {
		m.refs++ // counted outside the lock
		mrows = append(mrows, mapRow{labels(m.id, m.name, MapTypeName(m.m.Type())), m})
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		for _, r := range mrows {
			t.unref(r.m)
		}
		t.mu.Unlock()
	}()
	st := d.Status()
	var b strings.Builder
	head := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	head("xebpf_prog_run_cnt_total", "counter", "Runs of the program (bpftool's run_cnt).")
	for _, r := range prows {
		fmt.Fprintf(&b, "xebpf_prog_run_cnt_total{%s} %d\n", r.labels, r.runs)
	}
	head("xebpf_prog_run_time_ns_total", "counter", "Time the program ran, in nanoseconds (bpftool's run_time_ns).")
	for _, r := range prows {
		fmt.Fprintf(&b, "xebpf_prog_run_time_ns_total{%s} %d\n", r.labels, r.n)
	}
	head("xebpf_map_entries", "gauge", "Elements in the map.")
	for _, r := range mrows {
		fmt.Fprintf(&b, "xebpf_map_entries{%s} %d\n", r.labels, countEntries(r.m))
	}
	head("xebpf_map_max_entries", "gauge", "The map's max_entries.")
	for _, r := range mrows {
		fmt.Fprintf(&b, "xebpf_map_max_entries{%s} %d\n", r.labels, r.m.m.MaxEntries())
	}
	head("xebpf_programs", "gauge", "Programs loaded.")
	fmt.Fprintf(&b, "xebpf_programs %d\n", st.Programs)
	head("xebpf_maps", "gauge", "Maps alive.")
	fmt.Fprintf(&b, "xebpf_maps %d\n", st.Maps)
	head("xebpf_memory_bytes", "gauge", "Memory of the loaded collections, in bytes.")
	fmt.Fprintf(&b, "xebpf_memory_bytes %d\n", st.MemoryBytes)
	_, err := io.WriteString(w, b.String())
	return err
}

// MetricsHandler serves WriteMetrics over HTTP.
func (d *Daemon) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		d.WriteMetrics(w)
	})
}

// countEntries counts a map's keys, at most max_entries of them.
func countEntries(m *mapObj) uint32 {
	if m.m.KeySize() == 0 {
		return 0
	}
	var key any
	n := uint32(0)
	for n < m.m.MaxEntries() {
		next, err := m.m.NextKeyBytes(key)
		if err != nil || next == nil {
			break
		}
		n++
		key = next
	}
	return n
}

func labels(id uint32, name, typ string) string {
	return fmt.Sprintf("id=%q,name=%s,type=%q", strconv.FormatUint(uint64(id), 10), quoteLabel(name), typ)
}

// quoteLabel quotes a label value as the text format escapes it.
func quoteLabel(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
