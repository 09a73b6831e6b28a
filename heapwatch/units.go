package heapwatch

import (
	"math"
	"strconv"
)

// formatBytes formats n bytes with binary units and one decimal:
// "512 B", "1.5 KiB", "12.3 MiB".
func formatBytes(n float64) string {
	div, unit := byteUnit(n)
	if div == 1 {
		return strconv.FormatFloat(n, 'f', 0, 64) + " B"
	}
	return strconv.FormatFloat(n/div, 'f', 1, 64) + " " + unit
}

// formatBytesOf formats n bytes out of limit in the unit of limit:
// "6.1 of 8.0 MiB", "512 of 1024 B".
func formatBytesOf(n, limit float64) string {
	div, unit := byteUnit(limit)
	prec := 1
	if div == 1 {
		prec = 0
	}
	return strconv.FormatFloat(n/div, 'f', prec, 64) + " of " + strconv.FormatFloat(limit/div, 'f', prec, 64) + " " + unit
}

// byteUnit returns the binary unit n is best written in, and its size.
func byteUnit(n float64) (float64, string) {
	const units = "KMGTPE"
	a := math.Abs(n)
	if a < 1024 {
		return 1, "B"
	}
	i := -1
	div := 1.0
	for a >= 1024 && i < len(units)-1 {
		a /= 1024
		div *= 1024
		i++
	}
	return div, units[i:i+1] + "iB"
}

// groupDigits formats n with a comma every three digits: "9,800".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// formatRate formats a rate per second: "1,200/s", "12/s", "0.5/s",
// "0.016/s", "<0.001/s".
func formatRate(perSec float64) string {
	switch {
	case perSec < 0.001:
		return "<0.001/s"
	case perSec < 10:
		return strconv.FormatFloat(perSec, 'g', 2, 64) + "/s"
	}
	return groupDigits(int64(math.Round(perSec))) + "/s"
}

// signedBytes is formatBytes with a sign: "+1.2 MiB", "-3 B", "+0 B".
func signedBytes(n float64) string {
	if n >= 0 || math.Round(n) == 0 {
		return "+" + formatBytes(math.Abs(n))
	}
	return formatBytes(n)
}

// formatCount formats a count with k, M or G and one decimal: "950", "45.1k".
func formatCount(n float64) string {
	a := math.Abs(n)
	switch {
	case a < 1000:
		if a < 10 && n != math.Trunc(n) {
			return strconv.FormatFloat(n, 'f', 1, 64)
		}
		return strconv.FormatFloat(n, 'f', 0, 64)
	case a < 1e6:
		return strconv.FormatFloat(n/1e3, 'f', 1, 64) + "k"
	case a < 1e9:
		return strconv.FormatFloat(n/1e6, 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(n/1e9, 'f', 1, 64) + "G"
}

// signedCount is formatCount with a sign: "+3.1k", "-2", "+0".
func signedCount(n float64) string {
	if math.Abs(n) < 0.05 {
		return "+0"
	}
	if n > 0 {
		return "+" + formatCount(n)
	}
	return formatCount(n)
}
