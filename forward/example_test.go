package forward_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/forward"
)

// A Forwarder is a Handler: here it ships one parsed line to a store that
// speaks VictoriaLogs' JSON-lines API (a stand-in that prints what it
// gets).
func Example() {
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.URL.RawQuery)
		fmt.Print(string(body))
	}))
	defer store.Close()

	fw, err := forward.New([]string{"jsonline+" + store.URL + "/insert/jsonline?compress=none"}, forward.Options{
		Fields: []string{"time", "method", "path", "status", "route", "vhost"},
		Static: []forward.Field{{Name: "instance", Value: "web-1"}},
		VHost:  "shop.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var p ingest.Parser
	var r ingest.Request
	line := `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /users/42/orders HTTP/1.1" 200 1534 "-" "curl/8.5.0"`
	if err := p.Parse(&r, []byte(line)); err != nil {
		fmt.Println(err)
		return
	}
	fw.ServeLine(&r) // what a Server does for every line

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fw.Shutdown(ctx); err != nil { // sends what is left
		fmt.Println(err)
	}
	st := fw.Stats().Sinks[0]
	fmt.Println("sent", st.Sent, "dropped", st.Dropped)
	// Output:
	// _stream_fields=vhost%2Croute
	// {"_time":"2026-10-10T13:55:36Z","method":"GET","path":"/users/42/orders","status":200,"vhost":"shop.example.com","route":"/users/{id}/orders","instance":"web-1"}
	// sent 1 dropped 0
}

// WritePrometheus writes the counters in the Prometheus text format.
func ExampleForwarder_WritePrometheus() {
	fw, err := forward.New([]string{"es+http://127.0.0.1:9200/nginx"}, forward.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fw.Close()
	var b strings.Builder
	fw.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "ingest_forward_records_total") {
			fmt.Println(l)
		}
	}
	// Output:
	// ingest_forward_records_total{sink="es+http://127.0.0.1:9200/nginx",result="sent"} 0
	// ingest_forward_records_total{sink="es+http://127.0.0.1:9200/nginx",result="dropped"} 0
	// ingest_forward_records_total{sink="es+http://127.0.0.1:9200/nginx",result="retried"} 0
	// ingest_forward_records_total{sink="es+http://127.0.0.1:9200/nginx",result="rejected"} 0
}

// New names the field at fault.
func ExampleNew_error() {
	_, err := forward.New([]string{"es+http://127.0.0.1:9200/"}, forward.Options{})
	fmt.Println(err)
	// Output:
	// forward: sink URL "es+http://127.0.0.1:9200/": an es URL ends in the index: es+http://host:9200/INDEX
}
