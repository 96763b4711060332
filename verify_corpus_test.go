package xebpf_test

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/verifier"
)

// anchorRow is one program of ../shared/anchors/prevail.csv.
type anchorRow struct {
	Object, Section, Program string
	PrevailAccepted          bool
	PrevailSeconds           float64
	PrevailRSS               int
	PrevailError             string
	Expected                 string // accept, false_positive, reject, unknown
}

func loadAnchors(t testing.TB) []anchorRow {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "shared", "anchors", "prevail.csv"))
	if err != nil {
		t.Skipf("PREVAIL anchors not found: ../shared is absent (%v)", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var rows []anchorRow
	for _, r := range recs[1:] {
		secs, _ := strconv.ParseFloat(r[col["prevail_seconds"]], 64)
		rss, _ := strconv.Atoi(r[col["prevail_max_rss_kb"]])
		rows = append(rows, anchorRow{
			Object: r[col["object"]], Section: r[col["section"]], Program: r[col["program"]],
			PrevailAccepted: r[col["prevail_verdict"]] == "accepted", PrevailSeconds: secs, PrevailRSS: rss,
			PrevailError: r[col["prevail_first_error"]], Expected: r[col["expected"]],
		})
	}
	return rows
}

// verdict is xebpf's verdict on one anchored program.
type verdict struct {
	row      anchorRow
	accepted bool
	err      error
	seconds  float64
}

// verifyCorpus verifies every program of the anchors.
func verifyCorpus(t testing.TB) []verdict {
	rows := loadAnchors(t)
	specs := map[string]*xebpf.CollectionSpec{}
	var out []verdict
	for _, r := range rows {
		spec, ok := specs[r.Object]
		if !ok {
			var err error
			spec, err = xebpf.LoadCollectionSpec(filepath.Join("..", "shared", "corpus", r.Object))
			if err != nil {
				out = append(out, verdict{row: r, err: fmt.Errorf("load: %w", err)})
				specs[r.Object] = nil
				continue
			}
			specs[r.Object] = spec
		}
		if spec == nil {
			out = append(out, verdict{row: r, err: errors.New("load failed")})
			continue
		}
		name := programName(spec, r)
		start := time.Now()
		_, err := xebpf.VerifyProgram(spec, name, xebpf.VerifyOptions{Type: anchorType(spec, name, r), Timeout: 20 * time.Second})
		out = append(out, verdict{row: r, accepted: err == nil, err: err, seconds: time.Since(start).Seconds()})
	}
	return out
}

// anchorType is the program type PREVAIL verified a program as: its
// section's, except for sections that follow no naming convention, which
// PREVAIL takes for XDP in objects whose name says so (unless the section
// says "tc") and for TC classifiers otherwise (Cilium's "from-netdev", iproute2's "tail-1").
func anchorType(spec *xebpf.CollectionSpec, name string, r anchorRow) *xebpf.ProgramKind {
	ps, ok := spec.Programs[name]
	if ok && ps.Type != 0 {
		return nil
	}
	if r.Section == ".text" {
		return xebpf.KindOf(xebpf.UnspecifiedProgram) // a function verified on its own
	}
	if !strings.HasPrefix(r.Section, "tc") && strings.Contains(filepath.Base(r.Object), "xdp") {
		return xebpf.KindOf(xebpf.XDP)
	}
	return xebpf.KindOf(xebpf.SchedCLS)
}

// programName finds the spec's program for an anchor row: by function
// name, else by section.
func programName(spec *xebpf.CollectionSpec, r anchorRow) string {
	if _, ok := spec.Programs[r.Program]; ok {
		return r.Program
	}
	for n, p := range spec.Programs {
		if p.SectionName == r.Section {
			return n
		}
	}
	return r.Program
}

// TestVerifierCorpus compares xebpf's verdicts with PREVAIL's on the
// corpus, and checks the floors reached so far.
func TestVerifierCorpus(t *testing.T) {
	vs := verifyCorpus(t)
	count := map[string][2]int{} // expected -> accepted, total
	var xebpfTime, prevailTime float64
	reasons := map[string]int{}
	for _, v := range vs {
		c := count[v.row.Expected]
		c[1]++
		if v.accepted {
			c[0]++
		}
		count[v.row.Expected] = c
		xebpfTime += v.seconds
		prevailTime += v.row.PrevailSeconds
		if v.row.Expected == "reject" && v.accepted {
			t.Errorf("%s %s: accepted; it is unsafe (PREVAIL: %s)", v.row.Object, v.row.Program, v.row.PrevailError)
		}
		key := v.row.Object + " " + v.row.Program
		if v.row.Expected == "accept" && !v.accepted && knownRejections[key] == "" {
			t.Errorf("%s: rejected; PREVAIL accepts it: %v", key, v.err)
		}
		if knownRejections[key] != "" && v.accepted {
			t.Errorf("%s: accepted now: remove it from knownRejections", key)
		}
		if v.err != nil && v.row.Expected != "reject" {
			msg := v.err.Error()
			if i := strings.Index(msg, "\n"); i > 0 {
				msg = msg[:i]
			}
			t.Logf("%s %s (%s): %s", v.row.Object, v.row.Program, v.row.Expected, msg)
			reasons[reasonKey(v.err)]++
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("expected %-15s accepted %d of %d", k, count[k][0], count[k][1])
	}
	t.Logf("time: xebpf %.2fs, PREVAIL %.2fs (ratio %.2f)", xebpfTime, prevailTime, xebpfTime/prevailTime)
	// Every false positive xebpf accepts is argued safe, by a reader of
	// its code, in verifier/testdata/corpus-expectations.csv.
	args := falsePositiveArguments(t)
	for _, v := range vs {
		if v.row.Expected != "false_positive" || !v.accepted {
			continue
		}
		key := v.row.Object + " " + v.row.Program
		if args[key] == "" {
			t.Errorf("%s: accepted, but no argument for its safety in corpus-expectations.csv", key)
		} else if testing.Verbose() {
			t.Logf("accepted false positive %s: %s", key, args[key])
		}
	}
	// Floors reached so far: fewer means a precision regression.
	if c := count["false_positive"]; c[0] < minFalsePositivesAccepted {
		t.Errorf("%d of PREVAIL's false positives accepted, want at least %d", c[0], minFalsePositivesAccepted)
	}
	type kv struct {
		k string
		n int
	}
	var rs []kv
	for k, n := range reasons {
		rs = append(rs, kv{k, n})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n })
	for _, r := range rs {
		t.Logf("%4d  %s", r.n, r.k)
	}
}

// falsePositiveArguments reads, by "object program", the arguments for the
// safety of PREVAIL's false positives.
func falsePositiveArguments(t *testing.T) map[string]string {
	f, err := os.Open(filepath.Join("verifier", "testdata", "corpus-expectations.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, r := range recs[1:] {
		if r[3] == "false_positive" {
			args[r[0]+" "+r[2]] = r[5]
		}
	}
	return args
}

// knownRejections are the programs PREVAIL accepts that xebpf rejects,
// and why.
var knownRejections = map[string]string{}

// minFalsePositivesAccepted is how many of the programs PREVAIL wrongly
// rejects xebpf accepts (measured: 30 of 56).
const minFalsePositivesAccepted = 30

// reasonKey is an error's reason without numbers, for grouping.
func reasonKey(err error) string {
	var e *verifier.Error
	msg := err.Error()
	if errors.As(err, &e) {
		msg = e.Reason
	}
	var b strings.Builder
	for _, r := range msg {
		if r >= '0' && r <= '9' {
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) > 90 {
		s = s[:90]
	}
	return s
}
