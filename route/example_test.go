package route_test

import (
	"fmt"

	"github.com/flatheap/ingest/route"
)

func Example() {
	t, err := route.New(route.Config{Patterns: []string{
		"GET /health",
		"/static/{file...}",
		"/users/{id}/orders/{order}",
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []string{
		"/users/84213/orders/9f1c0b7e",
		"/static/css/site.css",
		"/api/v1/users/84213/orders/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10",
		"/confirm/jane.doe%40example.com/3f9a8b7c1d2e4f5a",
		"/a/b/c/d/e/f/g/h/i/j",
		"*",
	} {
		fmt.Println(t.Route([]byte("GET"), []byte(p)))
	}
	// Output:
	// /users/{id}/orders/{order}
	// /static/{file...}
	// /api/v1/users/{id}/orders/{uuid}
	// /confirm/{email}/{hex}
	// /a/b/c/d/e/f/g/{rest...}
	// {other}
}

func ExampleTemplater_Append() {
	t, _ := route.New(route.Config{})
	buf := make([]byte, 0, route.MaxRouteLen)
	buf = t.Append(buf[:0], []byte("GET"), []byte("/users/42/avatar.png"))
	fmt.Println(string(buf))
	// Output: /users/{id}/avatar.png
}

func ExampleNew_error() {
	_, err := route.New(route.Config{Patterns: []string{"/users/{id}", "/users/x{id}"}})
	fmt.Println(err)
	// Output: route: pattern 1 "/users/x{id}": at byte 8: a wildcard must be a whole segment
}

func ExampleTemplater_Explain() {
	t, _ := route.New(route.Config{Patterns: []string{"GET /health"}})
	ex := t.Explain([]byte("GET"), []byte("/users/42"))
	fmt.Println(ex.Route, ex.Rule, ex.PatternIndex)
	for _, s := range ex.Segments {
		fmt.Println(s.Text, s.Class)
	}
	ex = t.Explain([]byte("HEAD"), []byte("/health"))
	fmt.Println(ex.Route, ex.Rule, ex.Pattern, ex.PatternIndex)
	// Output:
	// /users/{id} segments -1
	// users literal
	// 42 id
	// /health pattern GET /health 0
}
