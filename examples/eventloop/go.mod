module github.com/wsmem/wsmem/examples/eventloop

go 1.26.0

replace github.com/wsmem/wsmem => ../../

require (
	github.com/wsmem/wsmem v0.0.0-00010101000000-000000000000
	golang.org/x/sys v0.49.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
)
