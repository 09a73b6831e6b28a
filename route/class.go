package route

// Byte classes: byteClass[c] has one bit for c. A segment's mask is the OR
// of its bytes' bits, so most classes are decided from the mask alone.
const (
	cDigit    uint16 = 1 << iota // 0-9
	cHexLower                    // a-f
	cHexUpper                    // A-F
	cLower                       // g-z
	cUpper                       // G-Z
	cDash                        // -
	cUnder                       // _
	cDot                         // .
	cEq                          // =
	cAt                          // @
	cPct                         // %
	cPlus                        // +
	cOther                       // any other printable ASCII byte but '/'
	cBad                         // not printable ASCII: below 0x21, or 0x7f and above
	cSlash                       // '/', which ends a segment
)

const (
	cHex     = cDigit | cHexLower | cHexUpper
	cAnyLow  = cHexLower | cLower
	cAnyUp   = cHexUpper | cUpper
	cAlnum   = cDigit | cAnyLow | cAnyUp
	cToken   = cAlnum | cDash | cUnder | cDot | cEq
	cLocal   = cAlnum | cDot | cUnder | cPct | cPlus | cDash
	cDomain  = cAlnum | cDash | cDot
	cEmailOK = cLocal | cAt
)

// byteClass maps a byte to its class bit.
var byteClass = func() (t [256]uint16) {
	for c := range t {
		b := byte(c)
		switch {
		case b < 0x21 || b >= 0x7f:
			t[c] = cBad
		case b >= '0' && b <= '9':
			t[c] = cDigit
		case b >= 'a' && b <= 'f':
			t[c] = cHexLower
		case b >= 'A' && b <= 'F':
			t[c] = cHexUpper
		case b >= 'g' && b <= 'z':
			t[c] = cLower
		case b >= 'G' && b <= 'Z':
			t[c] = cUpper
		case b == '-':
			t[c] = cDash
		case b == '_':
			t[c] = cUnder
		case b == '.':
			t[c] = cDot
		case b == '=':
			t[c] = cEq
		case b == '@':
			t[c] = cAt
		case b == '%':
			t[c] = cPct
		case b == '+':
			t[c] = cPlus
		case b == '/':
			t[c] = cSlash
		default:
			t[c] = cOther
		}
	}
	return t
}()

// A segment class: what an automatic class replaces a segment with.
type class uint8

const (
	classLiteral class = iota
	classID
	classUUID
	classHex
	classToken
	classEmail
)

// classText is the placeholder of each class but classLiteral.
var classText = [...][]byte{
	classID:    []byte("{id}"),
	classUUID:  []byte("{uuid}"),
	classHex:   []byte("{hex}"),
	classToken: []byte("{token}"),
	classEmail: []byte("{email}"),
}

// className names each class in an Explanation.
var className = [...]string{
	classLiteral: "literal",
	classID:      "id",
	classUUID:    "uuid",
	classHex:     "hex",
	classToken:   "token",
	classEmail:   "email",
}

// Class minimum lengths.
const (
	minHexLen   = 12
	minTokenLen = 16
	uuidLen     = 36
	maxEmailLen = 254
	maxLocalLen = 64
	maxLabelLen = 63
)

// classify returns the class of segment s, whose byte classes OR to m. The
// classes are tried in this order: id, uuid, hex, email, token.
func classify(s []byte, m uint16) class {
	n := len(s)
	if n == 0 {
		return classLiteral
	}
	if m == cDigit {
		return classID
	}
	if n == uuidLen && m&^(cHex|cDash) == 0 && isUUID(s) {
		return classUUID
	}
	if n >= minHexLen && m&^cHex == 0 && m&cDigit != 0 {
		return classHex
	}
	if m&(cAt|cPct) != 0 && m&^cEmailOK == 0 && isEmail(s) {
		return classEmail
	}
	if n >= minTokenLen && m&^cToken == 0 && m&cDigit != 0 && m&cAnyLow != 0 && m&cAnyUp != 0 && isToken(s, m) {
		return classToken
	}
	return classLiteral
}

// isUUID reports whether s, 36 bytes of hex digits and dashes, has its
// dashes where a UUID has them (8-4-4-4-12), and only there.
func isUUID(s []byte) bool {
	for i, c := range s {
		dash := i == 8 || i == 13 || i == 18 || i == 23
		if (c == '-') != dash {
			return false
		}
	}
	return true
}

// isToken reports whether s, made of base64url bytes, dots and '=' only,
// has a token's shape: '=' only as one or two trailing padding bytes, and
// either no dot or exactly two that split it in three parts, the first two
// not empty (a JWT: header.payload.signature).
func isToken(s []byte, m uint16) bool {
	if m&cEq != 0 {
		n := len(s)
		for n > 0 && len(s)-n < 2 && s[n-1] == '=' {
			n--
		}
		for _, c := range s[:n] {
			if c == '=' {
				return false
			}
		}
		s = s[:n]
	}
	if m&cDot == 0 {
		return true
	}
	dots, first, second := 0, -1, -1
	for i, c := range s {
		if c == '.' {
			dots++
			if first < 0 {
				first = i
			} else if second < 0 {
				second = i
			}
		}
	}
	return dots == 2 && first > 0 && second > first+1
}

// isEmail reports whether s is local@domain, where the at sign is '@' or
// its escape "%40" (not decoded, only recognised), local is 1 to 64 bytes
// of letters, digits and ._%+- , and domain is two or more dot-separated
// labels of 1 to 63 letters, digits and dashes, the last made of 2 or more
// letters. s is at most 254 bytes.
func isEmail(s []byte) bool {
	if len(s) > maxEmailLen {
		return false
	}
	at, sep := -1, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			at, sep = i, 1
			break
		}
		if s[i] == '%' && i+2 < len(s) && s[i+1] == '4' && s[i+2] == '0' {
			at, sep = i, 3
			break
		}
	}
	if at < 1 || at > maxLocalLen {
		return false
	}
	for _, c := range s[:at] {
		if byteClass[c]&^cLocal != 0 {
			return false
		}
	}
	dom := s[at+sep:]
	labels, label, letters := 0, 0, true
	for _, c := range dom {
		if c == '.' {
			if label == 0 {
				return false
			}
			labels++
			label, letters = 0, true
			continue
		}
		b := byteClass[c]
		if b&^cDomain != 0 {
			return false
		}
		label++
		if label > maxLabelLen {
			return false
		}
		letters = letters && b&(cAnyLow|cAnyUp) != 0
	}
	return labels >= 1 && label >= 2 && letters
}
