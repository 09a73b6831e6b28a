package ingest

import (
	"encoding/binary"
	"math"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest/internal/decimal"
)

// This file holds the decoders of times and durations: nginx's
// $time_local (Apache's %t), $time_iso8601, $msec and $request_time, and
// Apache's epoch and duration directives, with the calendar arithmetic and
// the zone cache they share with the syslog header checks.

// timeLocalLen is len("10/Oct/2026:13:55:36 +0000"), nginx's $time_local
// and Apache's %t without the brackets.
const timeLocalLen = 26

// timeCache keeps the last $time_local a Parser decoded. Consecutive lines
// usually carry the same second, so a repeat costs one 26-byte comparison.
type timeCache struct {
	text [timeLocalLen]byte // the last text decoded, a copy
	val  time.Time          // its time; zero until one is decoded
}

// decode decodes "dd/Mon/yyyy:hh:mm:ss +hhmm", b of timeLocalLen bytes,
// into r.Time.
func (c *timeCache) decode(r *Request, b []byte) error {
	if !c.val.IsZero() && sameTimeText(b, &c.text) {
		r.Time = c.val
		return nil
	}
	t, ok := decodeTimeLocal(b)
	if !ok {
		return errTime
	}
	copy(c.text[:], b)
	c.val = t
	r.Time = t
	return nil
}

// sameTimeText compares b, of length timeLocalLen, with t in four loads
// per side instead of a call to the runtime's memequal.
func sameTimeText(b []byte, t *[timeLocalLen]byte) bool {
	_ = b[timeLocalLen-1]
	le := binary.LittleEndian
	return le.Uint64(b) == le.Uint64(t[:]) && le.Uint64(b[8:]) == le.Uint64(t[8:]) &&
		le.Uint64(b[16:]) == le.Uint64(t[16:]) && le.Uint16(b[24:]) == le.Uint16(t[24:])
}

func decodeTimeLocal(b []byte) (time.Time, bool) {
	if len(b) != timeLocalLen || b[2] != '/' || b[6] != '/' || b[11] != ':' ||
		b[14] != ':' || b[17] != ':' || b[20] != ' ' || (b[21] != '+' && b[21] != '-') {
		return time.Time{}, false
	}
	day, ok1 := digits2(b[0], b[1])
	year, ok2 := digits2(b[7], b[8])
	yearLo, ok3 := digits2(b[9], b[10])
	hour, ok4 := digits2(b[12], b[13])
	minute, ok5 := digits2(b[15], b[16])
	sec, ok6 := digits2(b[18], b[19])
	offH, ok7 := digits2(b[22], b[23])
	offM, ok8 := digits2(b[24], b[25])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return time.Time{}, false
	}
	return civilTime(year*100+yearLo, monthIndex(b[3], b[4], b[5]), day, hour, minute, sec, offH, offM, b[21] == '-')
}

// civilTime checks the fields of a decoded timestamp and returns the time
// they name in its own UTC offset, offH:offM east of UTC (west when
// negative), for decodeTimeLocal and decodeTimeISO.
func civilTime(year, month, day, hour, minute, sec, offH, offM int, negative bool) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 ||
		sec > 59 || offH > 23 || offM > 59 {
		return time.Time{}, false
	}
	off := offH*60 + offM
	if negative {
		off = -off
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(off)*60
	return time.Unix(unix, 0).In(fixedZone(off)), true
}

func digits2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// monthIndex returns 1..12 for "Jan".."Dec" as nginx and Apache write them,
// or 0.
func monthIndex(a, b, c byte) int {
	key := uint32(a)<<16 | uint32(b)<<8 | uint32(c)
	for i, m := range monthKeys {
		if m == key {
			return i + 1
		}
	}
	return 0
}

var monthKeys = func() (k [12]uint32) {
	for i, m := range [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		k[i] = uint32(m[0])<<16 | uint32(m[1])<<8 | uint32(m[2])
	}
	return k
}()

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the given civil date
// in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // only year 0000 in January or February
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// zones caches one *time.Location per UTC offset in minutes, because
// time.FixedZone allocates. The table is bounded (offsets are at most
// ±23:59) and lock-free to read.
var zones [2*maxOffsetMinutes + 1]atomic.Pointer[time.Location]

const maxOffsetMinutes = 23*60 + 59

func fixedZone(offMinutes int) *time.Location {
	if offMinutes == 0 {
		return time.UTC
	}
	slot := &zones[offMinutes+maxOffsetMinutes]
	if loc := slot.Load(); loc != nil {
		return loc
	}
	loc := time.FixedZone("", offMinutes*60)
	if slot.CompareAndSwap(nil, loc) {
		return loc
	}
	return slot.Load()
}

// isoTimeLen is len("2026-11-25T21:22:09+00:00"), nginx's $time_iso8601.
const isoTimeLen = 25

// decodeTimeISO decodes nginx's $time_iso8601, "yyyy-mm-ddThh:mm:ss+hh:mm".
func decodeTimeISO(b []byte) (time.Time, bool) {
	if len(b) != isoTimeLen || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || (b[19] != '+' && b[19] != '-') || b[22] != ':' {
		return time.Time{}, false
	}
	y1, ok1 := digits2(b[0], b[1])
	y2, ok2 := digits2(b[2], b[3])
	month, ok3 := digits2(b[5], b[6])
	day, ok4 := digits2(b[8], b[9])
	hour, ok5 := digits2(b[11], b[12])
	minute, ok6 := digits2(b[14], b[15])
	sec, ok7 := digits2(b[17], b[18])
	offH, ok8 := digits2(b[20], b[21])
	offM, ok9 := digits2(b[23], b[24])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok9) {
		return time.Time{}, false
	}
	return civilTime(y1*100+y2, month, day, hour, minute, sec, offH, offM, b[19] == '-')
}

// decodeEpoch decodes a time since the Unix epoch: $msec ("1732569729.123")
// or Apache's %{sec}t, %{msec}t and %{usec}t (integers). The time is UTC.
func decodeEpoch(b []byte, f field) (time.Time, bool) {
	if f == fMsec {
		sec, ns, ok := decimal.Seconds(b, maxMsecDigits)
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(sec, ns).UTC(), true
	}
	n, ok := parseByteCount(b)
	if !ok || len(b) == 1 && b[0] == '-' {
		return time.Time{}, false
	}
	switch f {
	case fEpochMsec:
		return time.UnixMilli(n).UTC(), true
	case fEpochUsec:
		return time.UnixMicro(n).UTC(), true
	}
	if n > maxEpochSeconds {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// Bounds of the times since the epoch that decodeEpoch takes.
const (
	// maxMsecDigits is the most integer digits of $msec: 999,999,999,999
	// s is some 31,700 years.
	maxMsecDigits = 12
	// maxEpochSeconds is the largest %{sec}t: 2^40 s, some 34,800 years.
	// (%{msec}t and %{usec}t are bounded by their int64 only.)
	maxEpochSeconds = 1 << 40
)

// decodeDuration decodes $request_time (seconds with up to 9 decimals) or
// Apache's integer %D (microseconds), %{ms}T and %T.
func decodeDuration(b []byte, f field) (time.Duration, bool) {
	if f == fReqTime {
		sec, ns, ok := decimal.Seconds(b, maxRequestTimeDigits)
		if !ok {
			return 0, false
		}
		return time.Duration(sec)*time.Second + time.Duration(ns), true
	}
	n, ok := parseByteCount(b)
	if !ok || len(b) == 1 && b[0] == '-' {
		return 0, false
	}
	unit := time.Microsecond
	switch f {
	case fReqTimeMsec:
		unit = time.Millisecond
	case fReqTimeSec:
		unit = time.Second
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// maxRequestTimeDigits is the most integer digits of $request_time:
// 999,999,999 s, some 31 years, well inside a time.Duration.
const maxRequestTimeDigits = 9
