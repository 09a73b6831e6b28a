package forward

import (
	"strconv"
	"time"
)

// timeCache writes record times. Lines come in time order, many in the
// same second, so it keeps the text of the last second it wrote, one for
// each layout: a record then costs a copy of that text and, for lines
// with a fraction, its digits. An encoder has one; it is not safe for
// concurrent use.
type timeCache struct {
	// RFC 3339: date is "2006-01-02T15:04:05" of second sec in loc, zone
	// its offset ("Z" or "+02:00").
	loc   *time.Location
	sec   int64
	valid bool
	date  [19]byte
	zone  [6]byte
	zoneN int

	// Unix nanoseconds: digits are the decimal seconds of usec.
	usec    int64
	digits  [20]byte
	digitsN int
}

// appendRFC3339 appends t as appendRFC3339 does.
func (c *timeCache) appendRFC3339(dst []byte, t time.Time) []byte {
	if sec, loc := t.Unix(), t.Location(); sec != c.sec || loc != c.loc || !c.valid {
		if !c.fill(t, sec, loc) {
			return appendRFC3339(dst, t)
		}
	}
	dst = append(dst, c.date[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		dst = appendFraction(dst, ns)
	}
	return append(dst, c.zone[:c.zoneN]...)
}

// fill sets the cache to t's second; false when appendRFC3339 would not
// write t in the usual shape (a year outside 0-9999, an offset with
// seconds), which is then written without the cache.
func (c *timeCache) fill(t time.Time, sec int64, loc *time.Location) bool {
	c.valid = false
	var b [32]byte
	s := appendRFC3339(b[:0], t.Truncate(time.Second))
	zone := s[min(len(s), 19):]
	if len(s) < 20 || s[10] != 'T' || !(len(zone) == 1 && zone[0] == 'Z' || len(zone) == 6 && (zone[0] == '+' || zone[0] == '-')) {
		return false
	}
	copy(c.date[:], s[:19])
	c.zoneN = copy(c.zone[:], zone)
	c.loc, c.sec, c.valid = loc, sec, true
	return true
}

// appendUnixNano appends t as Unix nanoseconds in decimal.
func (c *timeCache) appendUnixNano(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec <= 0 || sec >= 9e9 {
		// Before 1970 or near the end of UnixNano's range: no shortcut.
		return strconv.AppendInt(dst, t.UnixNano(), 10)
	}
	if sec != c.usec || c.digitsN == 0 {
		c.digitsN = len(strconv.AppendInt(c.digits[:0], sec, 10))
		c.usec = sec
	}
	dst = append(dst, c.digits[:c.digitsN]...)
	return append9(dst, t.Nanosecond())
}

// append9 appends v, below 1e9, as 9 digits with leading zeros.
func append9(dst []byte, v int) []byte {
	var b [9]byte
	b[0] = byte('0' + v/1e8)
	put2(b[1:], v/1e6)
	put2(b[3:], v/1e4)
	put2(b[5:], v/100)
	put2(b[7:], v)
	return append(dst, b[:]...)
}

// appendFraction appends '.' and ns, nonzero, in up to nine digits
// without trailing zeros.
func appendFraction(dst []byte, ns int) []byte {
	var b [10]byte
	b[0] = '.'
	for i := 9; i >= 1; i-- {
		b[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := 10
	for b[n-1] == '0' {
		n--
	}
	return append(dst, b[:n]...)
}

// appendRFC3339 appends t as RFC 3339 with as many fraction digits as it
// needs and t's own offset, "Z" for UTC. It is time.RFC3339Nano's layout,
// written without the layout interpreter.
func appendRFC3339(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	local := t.Unix() + int64(off)
	days := local / 86400
	sod := local % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 || off%60 != 0 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	var b [25]byte
	put4(b[0:], int(y))
	b[4] = '-'
	put2(b[5:], int(m))
	b[7] = '-'
	put2(b[8:], int(d))
	b[10] = 'T'
	put2(b[11:], int(sod/3600))
	b[13] = ':'
	put2(b[14:], int(sod/60%60))
	b[16] = ':'
	put2(b[17:], int(sod%60))
	dst = append(dst, b[:19]...)
	if ns := t.Nanosecond(); ns != 0 {
		dst = appendFraction(dst, ns)
	}
	if off == 0 {
		return append(dst, 'Z')
	}
	b[19] = '+'
	if off < 0 {
		b[19] = '-'
		off = -off
	}
	put2(b[20:], off/3600)
	b[22] = ':'
	put2(b[23:], off/60%60)
	return append(dst, b[19:25]...)
}

// civil returns the proleptic Gregorian date of the day days after
// 1970-01-01 (H. Hinnant's days-to-civil algorithm).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10%10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}
