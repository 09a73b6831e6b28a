package route

import "testing"

func TestAppendMatch(t *testing.T) {
	tp := mustNew(t, Config{Patterns: []string{"GET /users/{id}", "/static/{file...}"}})
	f := func(method, path, want string, wantPattern bool) {
		t.Helper()
		got, pattern := tp.AppendMatch([]byte("x"), []byte(method), []byte(path))
		if string(got) != "x"+want || pattern != wantPattern {
			t.Errorf("AppendMatch(%q, %q) = %q, %v; want %q, %v", method, path, got, pattern, "x"+want, wantPattern)
		}
		if a := tp.Append([]byte("x"), []byte(method), []byte(path)); string(a) != string(got) {
			t.Errorf("Append(%q, %q) = %q, AppendMatch %q", method, path, a, got)
		}
	}
	f("GET", "/users/7", "/users/{id}", true)
	f("HEAD", "/users/7", "/users/{id}", true)
	f("POST", "/users/7", "/users/{id}", false)
	f("GET", "/static/a/b.js", "/static/{file...}", true)
	f("GET", "/wp-admin/qzkfjxbw.php", "/wp-admin/qzkfjxbw.php", false)
	f("GET", "*", Other, false)
	f("GET", "", Other, false)
	auto := mustNew(t, Config{})
	if r, p := auto.AppendMatch(nil, []byte("GET"), []byte("/users/7")); string(r) != "/users/{id}" || p {
		t.Errorf("no patterns: %q %v", r, p)
	}
}
