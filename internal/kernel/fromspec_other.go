//go:build !linux

package kernel

import (
	"fmt"

	"github.com/xebpf/xebpf/elf"
)

// LoadSpec fails with ErrUnavailable: only Linux can load eBPF objects.
func LoadSpec(spec *elf.CollectionSpec, opts LoadOptions) (*Collection, error) {
	return nil, fmt.Errorf("load spec: %w", errOS)
}
