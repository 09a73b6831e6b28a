package decimal

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestDigits(t *testing.T) {
	f := func(s string, i int, wantV uint64, wantEnd int) {
		t.Helper()
		v, end := Digits([]byte(s), i)
		if v != wantV || end != wantEnd {
			t.Fatalf("Digits(%q, %d) = %d, %d; want %d, %d", s, i, v, end, wantV, wantEnd)
		}
	}
	f("", 0, 0, 0)
	f("", 3, 0, 3) // past the end: nothing read
	f("x", 0, 0, 0)
	f("0", 0, 0, 1)
	f("123", 0, 123, 3)
	f("123 456", 0, 123, 3)
	f("123 456", 4, 456, 7)
	f("123 456", 3, 0, 3)
	f("007", 0, 7, 3)
	f("12/", 0, 12, 2)  // '/' is the byte below '0'
	f("12:", 0, 12, 2)  // ':' the byte above '9'
	f("1\xb1", 0, 1, 1) // bytes from 0x80 up are not digits
	f("18446744073709551615", 0, math.MaxUint64, 20)
	f("9999999999999999999", 0, 9999999999999999999, 19)
}

func TestInt64(t *testing.T) {
	ok := func(s string, want int64) {
		t.Helper()
		if n, good := Int64([]byte(s)); !good || n != want {
			t.Fatalf("Int64(%q) = %d, %v; want %d, true", s, n, good, want)
		}
	}
	bad := func(s string) {
		t.Helper()
		if n, good := Int64([]byte(s)); good {
			t.Fatalf("Int64(%q) = %d, true; want false", s, n)
		}
	}
	ok("0", 0)
	ok("1", 1)
	ok("000", 0)
	ok("4096", 4096)
	ok("9223372036854775807", math.MaxInt64)
	ok("0000000000000000001", 1) // 19 digits, leading zeros included
	bad("")
	bad("-")
	bad("-1")
	bad("+1")
	bad(" 1")
	bad("1 ")
	bad("1.0")
	bad("1_000")
	bad("0x10")
	bad("9223372036854775808")  // math.MaxInt64 + 1
	bad("18446744073709551616") // wraps a uint64
	bad("00000000000000000001") // 20 digits
	bad(strings.Repeat("9", 40))
}

func TestSeconds(t *testing.T) {
	ok := func(s string, maxWhole int, wantSec, wantNsec int64) {
		t.Helper()
		sec, nsec, good := Seconds([]byte(s), maxWhole)
		if !good || sec != wantSec || nsec != wantNsec {
			t.Fatalf("Seconds(%q, %d) = %d, %d, %v; want %d, %d, true", s, maxWhole, sec, nsec, good, wantSec, wantNsec)
		}
	}
	bad := func(s string, maxWhole int) {
		t.Helper()
		if sec, nsec, good := Seconds([]byte(s), maxWhole); good {
			t.Fatalf("Seconds(%q, %d) = %d, %d, true; want false", s, maxWhole, sec, nsec)
		}
	}
	ok("0", 9, 0, 0)
	ok("0.000", 9, 0, 0)
	ok("0.123", 9, 0, 123000000)
	ok("12.5", 9, 12, 500000000)
	ok("1732569729.123", 12, 1732569729, 123000000)
	ok("1.000000001", 9, 1, 1)
	ok("1.999999999", 9, 1, 999999999)
	ok("999999999", 9, 999999999, 0)
	ok("999999999999999999.5", 30, 999999999999999999, 500000000) // maxWhole capped at SafeDigits
	bad("", 9)
	bad(".5", 9)
	bad("1.", 9)
	bad("1.2.3", 9)
	bad("1,5", 9)
	bad("-1", 9)
	bad("-", 9)
	bad("1e3", 9)
	bad("1.0000000001", 9) // ten fraction digits
	bad("1000000000", 9)   // ten integer digits
	bad("1 ", 9)
	bad("1.5 ", 9)
	bad("1.-5", 9)
	bad("1000000000000000000", 30) // 19 digits
	bad("0", 0)
}

// FuzzDecimal checks the three decoders against strconv on any input.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"", "0", "-", "123", "0.5", "12.345678901", "9223372036854775807",
		"9223372036854775808", "18446744073709551616", "1732569729.123", "007.070", " 1", "1.", ".1"} {
		f.Add([]byte(s), uint8(0), uint8(9))
	}
	f.Add([]byte("200 1234 \"-\""), uint8(4), uint8(12))
	f.Fuzz(func(t *testing.T, b []byte, from, maxWhole uint8) {
		checkDigits(t, b, int(from))
		checkInt64(t, b)
		checkSeconds(t, b, int(maxWhole))
	})
}

// digitRun returns the end of the run of ASCII digits in b from i on.
func digitRun(b []byte, i int) int {
	j := i
	for j < len(b) && '0' <= b[j] && b[j] <= '9' {
		j++
	}
	return j
}

func checkDigits(t *testing.T, b []byte, i int) {
	t.Helper()
	v, end := Digits(b, i)
	if i >= len(b) {
		if v != 0 || end != i {
			t.Fatalf("Digits(%q, %d) past the end = %d, %d", b, i, v, end)
		}
		return
	}
	j := digitRun(b, i)
	if end != j {
		t.Fatalf("Digits(%q, %d) ends at %d, want %d", b, i, end, j)
	}
	if j == i {
		if v != 0 {
			t.Fatalf("Digits(%q, %d) = %d without digits", b, i, v)
		}
		return
	}
	if j-i > MaxDigits {
		return // wrapped: callers reject such numbers by their length
	}
	want, err := strconv.ParseUint(string(b[i:j]), 10, 64)
	if err != nil || v != want {
		t.Fatalf("Digits(%q, %d) = %d; strconv says %d, %v", b, i, v, want, err)
	}
}

func checkInt64(t *testing.T, b []byte) {
	t.Helper()
	n, ok := Int64(b)
	wantOK := len(b) > 0 && digitRun(b, 0) == len(b) && len(b) <= MaxDigits
	var want int64
	if wantOK {
		var err error
		want, err = strconv.ParseInt(string(b), 10, 64)
		wantOK = err == nil
	}
	if ok != wantOK || ok && n != want {
		t.Fatalf("Int64(%q) = %d, %v; strconv says %d, %v", b, n, ok, want, wantOK)
	}
}

func checkSeconds(t *testing.T, b []byte, maxWhole int) {
	t.Helper()
	sec, nsec, ok := Seconds(b, maxWhole)
	whole, frac, hasDot := strings.Cut(string(b), ".")
	wantOK := len(whole) > 0 && len(whole) <= min(maxWhole, SafeDigits) && digitRun([]byte(whole), 0) == len(whole) &&
		(!hasDot || len(frac) > 0 && len(frac) <= FracDigits && digitRun([]byte(frac), 0) == len(frac))
	var wantSec, wantNsec int64
	if wantOK {
		var err1, err2 error
		wantSec, err1 = strconv.ParseInt(whole, 10, 64)
		if hasDot {
			wantNsec, err2 = strconv.ParseInt(frac+strings.Repeat("0", FracDigits-len(frac)), 10, 64)
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("strconv rejects %q: %v, %v", b, err1, err2)
		}
	}
	if ok != wantOK || sec != wantSec || nsec != wantNsec {
		t.Fatalf("Seconds(%q, %d) = %d, %d, %v; strconv says %d, %d, %v", b, maxWhole, sec, nsec, ok, wantSec, wantNsec, wantOK)
	}
}
