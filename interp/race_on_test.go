//go:build race

package interp_test

// raceEnabled: the race detector makes sync.Pool drop items, so tests of
// allocation counts do not hold under it.
const raceEnabled = true
