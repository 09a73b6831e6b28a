// Package decimal decodes the unsigned decimal numbers of log fields in
// place, from their bytes: sizes and counts ($body_bytes_sent,
// $request_length), and seconds with a fraction ($request_time, $msec,
// $upstream_response_time). Nothing allocates, and Digits and Int64 are
// small enough for the compiler to inline into a parser's hot loop.
//
// The numbers are what web servers log: digits only, no sign, no
// exponent, no '_' separators, a bounded number of digits. Anything else
// is rejected, never rounded.
package decimal

import "math"

const (
	// MaxDigits is the most digits Int64 takes: every number of 19
	// digits fits a uint64, so it is checked against math.MaxInt64
	// after the loop, without overflow.
	MaxDigits = 19
	// SafeDigits is the most digits whose value always fits an int64
	// (999,999,999,999,999,999 < math.MaxInt64): a value of at most
	// SafeDigits digits needs no overflow check.
	SafeDigits = 18
	// FracDigits is the most fraction digits Seconds takes: nanoseconds.
	FracDigits = 9
)

// Digits reads the decimal digits of b from index i on. It returns their
// value and the index of the first byte after them: len(b) when the digits
// run to the end of b, and i itself when b[i] is not a digit or i is not
// below len(b). The value is exact for at most MaxDigits digits; past that
// it has wrapped, and the caller rejects the number by its length.
func Digits(b []byte, i int) (v uint64, end int) {
	for end = i; end < len(b); end++ {
		d := b[end] - '0'
		if d > 9 {
			break
		}
		v = v*10 + uint64(d)
	}
	return v, end
}

// Int64 decodes b, 1 to MaxDigits decimal digits, leading zeros included,
// into a non-negative int64. It reports false for an empty b, any byte that
// is not a digit (a sign, a space, "-"), more than MaxDigits digits and
// values above math.MaxInt64.
func Int64(b []byte) (int64, bool) {
	if uint(len(b)-1) >= MaxDigits { // len(b)-1 wraps for an empty b
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// Seconds decodes a number of seconds written "123" or "123.456": 1 to
// maxWhole integer digits, then optionally a '.' and 1 to FracDigits
// fraction digits. It returns the whole seconds and the fraction in
// nanoseconds (456000000 for ".456"). maxWhole above SafeDigits counts as
// SafeDigits, so the result never overflows.
func Seconds(b []byte, maxWhole int) (sec, nsec int64, ok bool) {
	w, i := Digits(b, 0)
	if i == 0 || i > maxWhole || i > SafeDigits {
		return 0, 0, false
	}
	if i == len(b) {
		return int64(w), 0, true
	}
	if b[i] != '.' {
		return 0, 0, false
	}
	f, end := Digits(b, i+1)
	n := end - i - 1
	if end != len(b) || n == 0 || n > FracDigits {
		return 0, 0, false
	}
	return int64(w), int64(f) * fracScale[n], true
}

// fracScale[n] turns a fraction of n digits into nanoseconds.
var fracScale = [FracDigits + 1]int64{0, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}
