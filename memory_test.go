package xebpf

import (
	"errors"
	"testing"
)

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{4096, "4 KiB"},
		{80 << 10, "80 KiB"},
		{1000203264, "954 MiB"},
		{1 << 30, "1 GiB"},
		{1288490189, "1.2 GiB"},
		{15 << 30, "15 GiB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestMemAccount(t *testing.T) {
	a := &memAccount{limit: 100}
	steps := []struct {
		charge int64 // negative: uncharge
		fail   bool
		used   int64
	}{
		{60, false, 60},
		{41, true, 60},
		{40, false, 100},
		{1, true, 100},
		{-30, false, 70},
		{30, false, 100},
	}
	for i, s := range steps {
		var err error
		if s.charge < 0 {
			a.uncharge(-s.charge)
		} else {
			err = a.charge("x", s.charge)
		}
		if (err != nil) != s.fail {
			t.Fatalf("step %d: charge %d: %v", i, s.charge, err)
		}
		var le *MemoryLimitError
		if s.fail && (!errors.Is(err, ErrMemoryLimit) || !errors.As(err, &le) || le.Need != s.charge || le.Limit != 100) {
			t.Fatalf("step %d: error %#v", i, err)
		}
		if got := a.used.Load(); got != s.used {
			t.Fatalf("step %d: used %d, want %d", i, got, s.used)
		}
	}
}
