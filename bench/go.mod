module github.com/wsmem/wsmem/bench

go 1.26.0

replace github.com/wsmem/wsmem => ../

replace github.com/wsmem/wsmem/examples/eventloop => ../examples/eventloop

require (
	github.com/coder/websocket v1.8.15
	github.com/gobwas/httphead v0.1.0
	github.com/gobwas/ws v1.5.0
	github.com/gorilla/websocket v1.5.3
	github.com/klauspost/compress v1.20.3
	github.com/lxzan/gws v1.8.9
	github.com/wsmem/wsmem v0.0.0-00010101000000-000000000000
	github.com/wsmem/wsmem/examples/eventloop v0.0.0-00010101000000-000000000000
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
