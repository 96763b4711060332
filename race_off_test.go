//go:build !race

package xebpf_test

const raceEnabled = false
