//go:build !unix

package forward

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
