package heapwatch

import (
	"math"
	"strconv"
)

// formatBytes formats n bytes with binary units and one decimal:
// "512 B", "1.5 KiB", "12.3 MiB".
func formatBytes(n float64) string {
	const units = "KMGTPE"
	a := math.Abs(n)
	if a < 1024 {
		return strconv.FormatFloat(n, 'f', 0, 64) + " B"
	}
	i := -1
	for a >= 1024 && i < len(units)-1 {
		a /= 1024
		n /= 1024
		i++
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + " " + units[i:i+1] + "iB"
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
