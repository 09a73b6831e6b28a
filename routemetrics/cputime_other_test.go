//go:build !unix

package routemetrics

func cpuTime() int64 { return 0 }
