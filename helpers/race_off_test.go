//go:build !race

package helpers_test

const raceEnabled = false
