// Package fuzz holds go test -fuzz targets for wsmem's exported API. Run
// them with `make fuzz-smoke` (seconds each) or `make fuzz FUZZTIME=10m`.
package fuzz
