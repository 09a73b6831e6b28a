//go:build unix

package tail_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/tail"
)

// A Tailer reads a log from its beginning and hands each line that parses
// to the handler; OnWait says when every file has been read to its end.
func Example() {
	dir, _ := os.MkdirTemp("", "tail-example")
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "access.log")
	os.WriteFile(name, []byte(
		`192.0.2.1 - - [06/Dec/2026:07:19:10 +0000] "GET /users/42 HTTP/1.1" 200 512 "-" "curl/8.5"`+"\n"+
			"a line that is not an access line\n"+
			`192.0.2.2 - - [06/Dec/2026:07:19:11 +0000] "POST /orders HTTP/1.1" 201 64 "-" "curl/8.5"`+"\n"), 0o644)

	ctx, stop := context.WithCancel(context.Background())
	t, err := tail.New(tail.Config{
		Paths:         []string{filepath.Join(dir, "*.log")},
		FromBeginning: true, // default: from the end, like tail -F
		StateDir:      dir,  // checkpoints: resume here after a restart
		OnWait:        stop, // here: stop once everything is read
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			// r and its slices are valid only until the handler returns.
			fmt.Println(r.Status, string(r.Method), string(r.Path))
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := t.Run(ctx); !errors.Is(err, context.Canceled) {
		fmt.Println(err)
	}
	st := t.Stats()
	fmt.Println("lines", st.Lines, "parsed", st.Parsed, "errors", st.ParseErrors, "not_access_line", st.ParseErrorsFor("not_access_line"))
	// Output:
	// 200 GET /users/42
	// 201 POST /orders
	// lines 3 parsed 2 errors 1 not_access_line 1
}
