module github.com/flatheap/ingest/bench/quietd

go 1.26.0

require github.com/flatheap/ingest v0.0.0

require (
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/flatheap/ingest => ../..
