package heapwatch

// parseStatm returns the second space-separated field of a /proc/<pid>/statm
// line (resident pages). It is portable so that it can be tested anywhere.
func parseStatm(b []byte) (pages uint64, ok bool) {
	i := 0
	for i < len(b) && b[i] != ' ' { // size
		i++
	}
	if i == 0 || i >= len(b) {
		return 0, false
	}
	i++
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if pages > (^uint64(0)-d)/10 {
			return 0, false
		}
		pages = pages*10 + d
	}
	if i == start || (i < len(b) && b[i] != ' ' && b[i] != '\n') {
		return 0, false
	}
	return pages, true
}
