//go:build !race

package wsmem

const raceEnabled = false
