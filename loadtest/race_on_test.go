//go:build race

package loadtest

// raceSlowdown is how many times fewer messages a second the clients aim
// for under the race detector, which makes the codec that much slower.
const raceSlowdown = 5
