//go:build linux && !race

package ingest

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// controlBuffer returns the control messages of a datagram as the kernel
// writes them: an SO_TIMESTAMP message, then SO_RXQ_OVFL with drops.
func controlBuffer(drops uint32) []byte {
	b := make([]byte, oobSize)
	ts := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	ts.Level, ts.Type = unix.SOL_SOCKET, unix.SO_TIMESTAMP
	ts.SetLen(unix.CmsgLen(16))
	off := unix.CmsgSpace(16)
	ov := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
	ov.Level, ov.Type = unix.SOL_SOCKET, unix.SO_RXQ_OVFL
	ov.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[off+unix.CmsgLen(0):], drops)
	return b[:off+unix.CmsgSpace(4)]
}

// TestControlMessages: the kernel's drop count is found after another
// message; cut and malformed buffers are ignored; nothing allocates.
func TestControlMessages(t *testing.T) {
	var d dropCounter
	m := mmsgReader{drops: &d}
	m.controlMessages(controlBuffer(3))
	m.controlMessages(controlBuffer(10))
	if got := d.drops.Load(); got != 10 {
		t.Fatalf("drops = %d, want 10", got)
	}
	full := controlBuffer(50)
	bad := append([]byte(nil), full...)
	bad[0] = 0xff // a length past the buffer
	for _, b := range [][]byte{nil, full[:unix.SizeofCmsghdr-1], full[:unix.CmsgSpace(16)+unix.SizeofCmsghdr+2], bad} {
		m.controlMessages(b)
	}
	if got := d.drops.Load(); got != 10 {
		t.Fatalf("drops = %d after cut and malformed messages, want 10", got)
	}
	testAllocs(t, "controlMessages", func() { m.controlMessages(full) })
	testAllocs(t, "controlMessages, malformed", func() { m.controlMessages(bad) })
}
