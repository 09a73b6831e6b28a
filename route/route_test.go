package route

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

func mustNew(t testing.TB, cfg Config) *Templater {
	t.Helper()
	tp, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// check compares Append, Route and Explain for one request.
func check(t *testing.T, tp *Templater, method, path, want string) {
	t.Helper()
	got := string(tp.Append(nil, []byte(method), []byte(path)))
	if got != want {
		t.Errorf("Append(%q, %q) = %q, want %q", method, path, got, want)
	}
	if r := tp.Route([]byte(method), []byte(path)); r != want {
		t.Errorf("Route(%q, %q) = %q, want %q", method, path, r, want)
	}
	if ex := tp.Explain([]byte(method), []byte(path)); ex.Route != want {
		t.Errorf("Explain(%q, %q).Route = %q, want %q", method, path, ex.Route, want)
	}
}

func TestRoute_Classes(t *testing.T) {
	tp := mustNew(t, Config{})
	f := func(seg, want string) {
		t.Helper()
		check(t, tp, "GET", "/a/"+seg+"/b", "/a/"+want+"/b")
	}
	// {id}: decimal numbers of any length, years included.
	f("1", "{id}")
	f("84213", "{id}")
	f("007", "{id}")
	f("2024", "{id}")
	f("12345678901234567890123456789", "{id}")
	f("-1", "-1")
	f("1.5", "1.5")
	f("1e6", "1e6")
	f("123.json", "123.json")
	f("+42", "+42")
	// {uuid}: 8-4-4-4-12 hex digits, either case.
	f("9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10", "{uuid}")
	f("9F1C0B7E-3C1A-4F0E-9D0B-2A6C1E5F7A10", "{uuid}")
	f("00000000-0000-0000-0000-000000000000", "{uuid}")
	f("9f1c0b7e3c1a-4f0e-9d0b-2a6c1e5f7a10-", "9f1c0b7e3c1a-4f0e-9d0b-2a6c1e5f7a10-")
	f("9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a1", "9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a1")
	f("9g1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10", "9g1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10")
	f("{9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10}", "{9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10}")
	// {hex}: 12 or more hex digits with a digit and a letter.
	f("3f9a8b7c1d2e", "{hex}")
	f("3F9A8B7C1D2E", "{hex}")
	f("9f1c0b7e3c1a4f0e9d0b2a6c1e5f7a10", "{hex}")         // a UUID without dashes
	f("da39a3ee5e6b4b0d3255bfef95601890afd80709", "{hex}") // SHA-1
	f("3f9a8b7c1d2", "3f9a8b7c1d2")                        // 11 digits
	f("deadbeefcafe", "deadbeefcafe")                      // no digit
	f("3f9a8b7c1d2g", "3f9a8b7c1d2g")
	f("0x3f9a8b7c1d2e", "0x3f9a8b7c1d2e")
	f("app.3f9a8b7c1d2e.js", "app.3f9a8b7c1d2e.js") // classified as a whole
	// {token}: 16 or more base64url bytes with a digit, a lower- and an
	// upper-case letter; '=' padding; a JWT's three dotted parts.
	f("dGhpcyBpcyBhIHRva2Vu", "{token}")
	f("AbC123xyz_-AbC123xy", "{token}")
	f("AbC123xyz_-AbC12==", "{token}")
	f("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk", "{token}")
	f("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0In0.", "{token}")
	f("AbC123xyzAbC123", "AbC123xyzAbC123")             // 15 bytes
	f("abc123xyzabc123xyz", "abc123xyzabc123xyz")       // no upper case
	f("ABC123XYZABC123XYZ", "ABC123XYZABC123XYZ")       // no lower case
	f("getUserPreferencesNow", "getUserPreferencesNow") // no digit
	f("AbC123xyz=AbC123xyz", "AbC123xyz=AbC123xyz")     // '=' inside
	f("AbC123xyzAbC123xyz===", "AbC123xyzAbC123xyz===") // three '='
	f("AbC123xyz.AbC123xyz", "AbC123xyz.AbC123xyz")     // one dot
	f("a.b.c.AbC123xyzAbC123", "a.b.c.AbC123xyzAbC123") // three dots
	f("MyDocument2024Final.pdf", "MyDocument2024Final.pdf")
	f("AbC123xyz~AbC123xyz", "AbC123xyz~AbC123xyz")
	// A dotted token is a JWT only when its header starts as one does.
	f("App.3f9a8b7c1d2e.js", "App.3f9a8b7c1d2e.js")
	f("MyReport2024.final.pdf", "MyReport2024.final.pdf")
	f("AbC123xyz.AbC123xyz.sig", "AbC123xyz.AbC123xyz.sig")
	f("eyJ.AbC123xyzAbC123.", "{token}")
	// Slugs: words of letters (capitalised or upper case) or digits,
	// joined by '-' or '_', stay; mixed parts make a token.
	f("Getting-Started-With-Go-2024", "Getting-Started-With-Go-2024")
	f("World_War_II_1945", "World_War_II_1945")
	f("My-Report-2024-FINAL", "My-Report-2024-FINAL")
	f("Release__Notes-2024-", "Release__Notes-2024-")
	f("dGhp-cyBpcyBhIHRva2Vu", "{token}")
	f("Getting-Started-With-Go2024", "Getting-Started-With-Go2024")
	f("Internationalization2024", "Internationalization2024")
	f("internationalization2024", "internationalization2024")
	// One-case IDs (ULID, CUID): 20 or more letters of one case and
	// digits, with both, and nothing else.
	f("01ARZ3NDEKTSV4RRFFQ69G5FAV", "{token}")
	f("cjld2cjxh0000qzrmn831i7rn", "{token}")
	f("abc123xyzabc123xyzab", "{token}")
	f("01ARZ3NDEKTSV4RRFFQ", "01ARZ3NDEKTSV4RRFFQ")       // 19 bytes
	f("ABCDEFGHIJKLMNOPQRSTUV", "ABCDEFGHIJKLMNOPQRSTUV") // no digit
	f("internationalization", "internationalization")     // no digit
	f("abc123xyz-abc123xyzab", "abc123xyz-abc123xyzab")   // a separator
	// {email}: local@domain, with '@' or its escape %40.
	f("jane.doe@example.com", "{email}")
	f("jane+tag@mail.example.co.uk", "{email}")
	f("jane.doe%40example.com", "{email}")
	f("j@ex.io", "{email}")
	f("@example.com", "@example.com")
	f("jane@", "jane@")
	f("jane@localhost", "jane@localhost")
	f("jane@example.c", "jane@example.c")
	f("jane@example.c0m", "jane@example.c0m")
	f("jane@@example.com", "jane@@example.com")
	f("jane@exa_mple.com", "jane@exa_mple.com")
	f("jane@example..com", "jane@example..com")
	f("@v1", "@v1")
	f("%40", "%40")
	f("100%25", "100%25")
	// Untouched.
	for _, s := range []string{"v1", "v2", "2fa", "index.html", "en-US", "api", "healthz",
		"favicon.ico", "robots.txt", "p95", "utf-8", "x86_64", "users", "my-blog-post-2024",
		"how-to-configure-nginx-for-http2-and-tls13", "a%20b", "caf%C3%A9", "*", ":id", "~user",
		"{id}", "..", ".", "sitemap.xml", "main.js", "1x1.gif", "foo;bar=1", "ipv6", "e2e",
		"App.3f9a8b7c1d2e.js", "MyReport2024.final.pdf", "Getting-Started-With-Go-2024", "World_War_II_1945"} {
		f(s, s)
	}
}

func TestRoute_Paths(t *testing.T) {
	tp := mustNew(t, Config{})
	f := func(path, want string) {
		t.Helper()
		check(t, tp, "GET", path, want)
	}
	// Not a path.
	f("", Other)
	f("*", Other)
	f("example.com:443", Other)
	f("http://example.com/x", Other)
	f("users/1", Other)
	f(" /users", Other)
	// Kept as written: root, trailing slash, empty segments, dot segments,
	// escapes.
	f("/", "/")
	f("/users/", "/users/")
	f("/users/42/", "/users/{id}/")
	f("//", "//")
	f("/users//42", "/users//{id}")
	f("/a/./b/../c", "/a/./b/../c")
	f("/files/a%2Fb/42", "/files/a%2Fb/{id}")
	f("/users/84213/orders/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10", "/users/{id}/orders/{uuid}")
	f("/42", "/{id}")
}

func TestRoute_Bounds(t *testing.T) {
	tp := mustNew(t, Config{})
	f := func(path, want string) {
		t.Helper()
		check(t, tp, "", path, want)
	}
	// MaxSegments 8: eight segments are kept, nine are cut after seven.
	f("/1/2/3/4/5/6/7/8", "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}")
	f("/1/2/3/4/5/6/7/8/9", "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{rest...}")
	f("/a/b/c/d/e/f/g/h/", "/a/b/c/d/e/f/g/{rest...}")
	f("/a/b/c/d/e/f/g/"+strings.Repeat("x", 2000), "/a/b/c/d/e/f/g/{rest...}")
	f("////////", "////////")
	f("/////////", "///////"+"/{rest...}")
	// Not printable ASCII: cut there.
	f("/a/b c/d", "/a/{rest...}")
	f("/a/caf\xc3\xa9/d", "/a/{rest...}")
	f("/a/\x00", "/a/{rest...}")
	f("/a\x7f", "/{rest...}")
	// Longer than MaxClassLen.
	f("/a/"+strings.Repeat("x", MaxClassLen+1)+"/b", "/a/{rest...}")
	f("/a/"+strings.Repeat("7", MaxClassLen)+"/b", "/a/{id}/b")
	f("/a/"+strings.Repeat("7", MaxClassLen+1)+"/b", "/a/{rest...}")
	// MaxRouteLen: a segment that would not fit is cut, keeping room for
	// /{rest...}; the last segment may use the room.
	s200, s45, s55 := strings.Repeat("a", 200), strings.Repeat("b", 45), strings.Repeat("c", 55)
	f("/"+s200+"/"+s45, "/"+s200+"/"+s45)           // 247 bytes, the last segment
	f("/"+s200+"/"+s55[1:], "/"+s200+"/"+s55[1:])   // 256 bytes
	f("/"+s200+"/"+s55, "/"+s200+"/{rest...}")      // 257
	f("/"+s200+"/"+s45+"/x", "/"+s200+"/{rest...}") // 247 > 246 before the last
	f("/"+s200+"/"+s45[1:]+"/x", "/"+s200+"/"+s45[1:]+"/x")
	f("/"+strings.Repeat("x", 300), "/{rest...}")

	tp3 := mustNew(t, Config{MaxSegments: 3})
	check(t, tp3, "", "/a/b/c", "/a/b/c")
	check(t, tp3, "", "/a/b/c/d", "/a/b/{rest...}")
	tp1 := mustNew(t, Config{MaxSegments: 1})
	check(t, tp1, "", "/a", "/a")
	check(t, tp1, "", "/a/", "/{rest...}")
	tpBig := mustNew(t, Config{MaxSegments: 1000})
	if tpBig.MaxSegments() != MaxMaxSegments {
		t.Errorf("MaxSegments() = %d, want %d", tpBig.MaxSegments(), MaxMaxSegments)
	}
}

func TestRoute_NoAutoClasses(t *testing.T) {
	tp := mustNew(t, Config{NoAutoClasses: true, Patterns: []string{"/users/{id}"}})
	check(t, tp, "GET", "/users/42", "/users/{id}")
	check(t, tp, "GET", "/orders/42/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10", "/orders/42/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10")
	check(t, tp, "GET", "/1/2/3/4/5/6/7/8/9", "/1/2/3/4/5/6/7/{rest...}")
}

func TestRoute_Patterns(t *testing.T) {
	tp := mustNew(t, Config{Patterns: []string{
		"GET /health",                 // 0
		"/users/{id}/orders/{order}",  // 1
		"/users/me/orders/{order}",    // 2: never wins over 1
		"/users/me/{what}",            // 3
		"/users/{id}",                 // 4
		"/static/{file...}",           // 5
		"POST /api/",                  // 6
		"/api/v1/{$}",                 // 7
		"/api/v1/items/{item}",        // 8
		"DELETE\t /users/{id}/{x...}", // 9
		"/{$}",                        // 10
	}})
	f := func(method, path, want string) {
		t.Helper()
		check(t, tp, method, path, want)
	}
	f("GET", "/health", "/health")
	f("HEAD", "/health", "/health")
	f("POST", "/health", "/health")  // the automatic classes
	f("", "/health", "/health")      // the same text, made by the segments
	f("GET", "/health/", "/health/") // no pattern
	f("GET", "/users/42/orders/7", "/users/{id}/orders/{order}")
	f("GET", "/users/me/orders/7", "/users/{id}/orders/{order}") // first match
	f("GET", "/users/me/profile", "/users/me/{what}")
	f("GET", "/users/42", "/users/{id}")
	f("GET", "/users/", "/users/")
	f("GET", "/users//orders/7", "/users//orders/{id}") // {id} needs a segment
	f("DELETE", "/users/42/a/b/c", "/users/{id}/{x...}")
	f("DELETE", "/users/42/", "/users/{id}/{x...}")
	f("DELETE", "/users/42", "/users/{id}")
	f("GET", "/static/", "/static/{file...}")
	f("GET", "/static/css/1/2/3/4/5/6/7/8/9/x.css", "/static/{file...}")
	f("GET", "/static", "/static")
	f("POST", "/api/v1/", "/api/")
	f("GET", "/api/v1/", "/api/v1/{$}")
	f("GET", "/api/v1/items/3", "/api/v1/items/{item}")
	f("POST", "/api/v1/items/3", "/api/")
	f("GET", "/api/v1/items/3/x", "/api/v1/items/{id}/x")
	f("GET", "/", "/{$}")
	f("get", "/health", "/health")

	ex := tp.Explain([]byte("GET"), []byte("/users/me/orders/7"))
	if ex.Rule != "pattern" || ex.PatternIndex != 1 || ex.Pattern != "/users/{id}/orders/{order}" {
		t.Errorf("Explain = %+v", ex)
	}
	ex = tp.Explain([]byte("DELETE"), []byte("/users/1/x"))
	if ex.Pattern != "DELETE\t /users/{id}/{x...}" || ex.PatternIndex != 9 {
		t.Errorf("Explain = %+v", ex)
	}

	catchAll := mustNew(t, Config{Patterns: []string{"/users/{id}", "/"}})
	check(t, catchAll, "GET", "/users/1", "/users/{id}")
	check(t, catchAll, "GET", "/x/1", "/")
	check(t, catchAll, "GET", "/", "/")
	check(t, catchAll, "GET", "*", Other)
}

func TestNew_BadPatterns(t *testing.T) {
	f := func(p string, offset int, reason string) {
		t.Helper()
		_, err := New(Config{Patterns: []string{"/ok", p}})
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Fatalf("New(%q) = %v, want a *PatternError", p, err)
		}
		if pe.Index != 1 || pe.Pattern != p || pe.Offset != offset || !strings.Contains(pe.Reason, reason) {
			t.Errorf("New(%q) = %+v, want offset %d, reason with %q", p, pe, offset, reason)
		}
		if !strings.Contains(err.Error(), "pattern 1 ") {
			t.Errorf("Error() = %q", err)
		}
	}
	f("", 0, "empty")
	f("users", 0, "begins with")
	f(" /users", 0, "begins with")
	f("GET", 0, "begins with")
	f("GET example.com/", 4, "host")
	f("GE(T /x", 2, "bad method")
	f("/users/{id", 7, "whole segment")
	f("/users/x{id}", 8, "whole segment")
	f("/users/{}", 8, "wildcard name")
	f("/users/{1a}", 8, "wildcard name")
	f("/users/{a-b}", 8, "wildcard name")
	f("/users/{id}/{id}", 13, "duplicate wildcard")
	f("/users/{f...}/x", 7, "end the pattern")
	f("/users/{$}/x", 7, "end the pattern")
	f("/a b", 2, "not printable")
	f("/"+strings.Repeat("a", 256), 256, "longer than 256")
	f("/1/2/3/4/5/6/7/8/9", 0, "9 segments")
	f("/ok", 0, "duplicates pattern 0")

	if _, err := New(Config{Patterns: []string{"HEAD /ok", "GET /ok", "POST /ok", "/ok", "/ok/"}}); err != nil {
		t.Errorf("different methods: %v", err)
	}
	// A later pattern whose methods an earlier one of the same segments
	// all takes could never match.
	for _, ps := range [][]string{{"/a", "GET /a"}, {"/a/", "POST /a/"}, {"GET /a", "HEAD /a"},
		{"/x/{y...}", "DELETE /x/{z...}"}, {"/{x}", "PUT /{y}"}} {
		var pe *PatternError
		if _, err := New(Config{Patterns: ps}); !errors.As(err, &pe) || pe.Index != 1 || !strings.Contains(pe.Reason, "pattern 0") {
			t.Errorf("%q: %v", ps, err)
		}
	}
	if _, err := New(Config{Patterns: []string{"/1/2/3/4/5/6/7/8/9"}, MaxSegments: 9}); err != nil {
		t.Errorf("MaxSegments 9: %v", err)
	}
}

func TestExplain(t *testing.T) {
	tp := mustNew(t, Config{Patterns: []string{"GET /health"}})
	ex := tp.Explain([]byte("GET"), []byte("/users/42/orders/jane@example.com/1/2/3/4/5/6"))
	b, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"route":"/users/{id}/orders/{email}/{id}/{id}/{id}/{rest...}","rule":"segments","pattern_index":-1,` +
		`"segments":[{"text":"users","class":"literal"},{"text":"42","class":"id"},{"text":"orders","class":"literal"},` +
		`{"text":"jane@example.com","class":"email"},{"text":"1","class":"id"},{"text":"2","class":"id"},{"text":"3","class":"id"},` +
		`{"text":"4/5/6","class":"rest","cut":"max_segments"}]}`
	if string(b) != want {
		t.Errorf("Explain JSON\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(tp.Explain(nil, []byte("*")))
	if string(b) != `{"route":"{other}","rule":"other","pattern_index":-1}` {
		t.Errorf("Explain(*) = %s", b)
	}
	b, _ = json.Marshal(tp.Explain([]byte("HEAD"), []byte("/health")))
	if string(b) != `{"route":"/health","rule":"pattern","pattern":"GET /health","pattern_index":0}` {
		t.Errorf("Explain(/health) = %s", b)
	}
}

func TestRoute_Concurrent(t *testing.T) {
	tp := mustNew(t, Config{Patterns: []string{"/users/{id}"}})
	paths := []string{"/users/1", "/orders/42/items/7", "/a/3f9a8b7c1d2e", "*", "/x/y/z/1/2/3/4/5/6/7"}
	want := make([]string, len(paths))
	for i, p := range paths {
		want[i] = string(tp.Append(nil, nil, []byte(p)))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			var buf []byte
			for n := 0; n < 2000; n++ {
				i := (n + g) % len(paths)
				buf = tp.Append(buf[:0], nil, []byte(paths[i]))
				if string(buf) != want[i] {
					t.Errorf("Append(%q) = %q, want %q", paths[i], buf, want[i])
					return
				}
				if r := tp.Route(nil, []byte(paths[i])); r != want[i] {
					t.Errorf("Route(%q) = %q, want %q", paths[i], r, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAppend_KeepsDst(t *testing.T) {
	tp := mustNew(t, Config{})
	dst := []byte("route=")
	dst = tp.Append(dst, nil, []byte("/users/42"))
	if string(dst) != "route=/users/{id}" {
		t.Errorf("Append = %q", dst)
	}
	dst = tp.Append(dst[:6], nil, []byte("x"))
	if string(dst) != "route={other}" {
		t.Errorf("Append = %q", dst)
	}
}
