// Generator for ../mask_amd64.s (run: go run . -out ../mask_amd64.s).
// golang.org/x/tools is pinned: avo only sets a floor for it, and some
// x/tools releases (v0.20.0, for one) no longer compile with Go 1.26
// (internal/tokeninternal: "invalid array length"); v0.52.0 does.
module github.com/wsmem/wsmem/_asm

go 1.26.0

require github.com/mmcloughlin/avo v0.5.0

require (
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
)
