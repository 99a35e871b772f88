//go:build !race

package conformance

// raceFactor stretches the suite's time limits under the race detector.
const raceFactor = 1

// raceBytewiseBudget bounds the one-byte writes of a run under the race
// detector.
const raceBytewiseBudget = bytewiseBudget
