package forward

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// benchLines are the fixtures: a 250-byte combined line, and the test
// format's line (upstream times, host, request id) with 100-byte and
// 2 KiB paths.
func benchLines(b *testing.B) []struct {
	name string
	r    *ingest.Request
} {
	f := mustFormat(b)
	now := time.Unix(1760104536, 123000000)
	return []struct {
		name string
		r    *ingest.Request
	}{
		{"combined250", parse(b, nil, line250)},
		{"upstream", parse(b, f, string(appendLine(nil, 7, now, 100)))},
		{"upstream2k", parse(b, f, string(appendLine(nil, 7, now, 2048)))},
	}
}

// cpuClock measures the CPU time of a benchmark's loop. The machine the
// benchmarks run on may be shared: ns/op counts the time the loop waited
// for a core too, cpu-ns/op only the time it ran (the whole process's,
// which is the loop's when it does not allocate).
type cpuClock time.Duration

func startCPU() cpuClock {
	t, _ := cpuTime()
	return cpuClock(t)
}

func (c cpuClock) report(b *testing.B) {
	if t, ok := cpuTime(); ok && b.N > 0 {
		b.ReportMetric(float64(t-time.Duration(c))/float64(b.N), "cpu-ns/op")
	}
}

var benchSinks = []struct{ name, url string }{
	{"jsonline", "jsonline+http://127.0.0.1:1/insert/jsonline"},
	{"es", "es+http://127.0.0.1:1/logs"},
	{"kafka", "kafka://127.0.0.1:1/t"},
}

// BenchmarkEncode encodes one Request into a record of each wire format,
// fixture by fixture, beside the root package's Request.AppendJSON of the
// same Request (AppendJSON: a JSON object of fewer fields, without the
// message, for scale). bytes/s are of the access line.
func BenchmarkEncode(b *testing.B) {
	type encoding struct {
		name string
		enc  *encoder
		w    *wire
	}
	var encs []encoding
	for _, s := range benchSinks {
		for _, tf := range []struct {
			name string
			t    TimeFormat
		}{{"rfc3339", TimeRFC3339}, {"unixnano", TimeUnixNano}} {
			if s.name == "es" && tf.t == TimeUnixNano {
				continue
			}
			fw := testForwarder(b, s.url, Options{Time: tf.t})
			encs = append(encs, encoding{s.name + "/" + tf.name, fw.shards[0].enc, &fw.sinks[0].wire})
		}
	}
	// The route template is computed by package route for every record:
	// the same record without it shows the encoder's own share.
	var noRoute []string
	for _, name := range AllFields {
		if name != "route" && name != "request" {
			noRoute = append(noRoute, name)
		}
	}
	fw := testForwarder(b, benchSinks[0].url, Options{Fields: append(noRoute, "upstream_response_time", "request_id")})
	encs = append(encs, encoding{"jsonline-noroute/rfc3339", fw.shards[0].enc, &fw.sinks[0].wire})
	for _, l := range benchLines(b) {
		b.Run(l.name+"/AppendJSON", func(b *testing.B) {
			buf := l.r.AppendJSON(make([]byte, 0, 64<<10))
			want := len(buf)
			b.ReportAllocs()
			b.SetBytes(int64(len(l.r.Line)))
			cpu := startCPU()
			for b.Loop() {
				buf = l.r.AppendJSON(buf[:0])
				if len(buf) != want || buf[len(buf)-1] != '}' {
					b.Fatalf("object of %d bytes, want %d", len(buf), want)
				}
			}
			cpu.report(b)
			b.ReportMetric(float64(want), "record-B")
		})
		for _, e := range encs {
			b.Run(l.name+"/"+e.name, func(b *testing.B) {
				buf := e.enc.append(make([]byte, 0, 64<<10), l.r, e.w)
				want := len(buf)
				b.ReportAllocs()
				b.SetBytes(int64(len(l.r.Line)))
				cpu := startCPU()
				for b.Loop() {
					buf = e.enc.append(buf[:0], l.r, e.w)
					if len(buf) != want || buf[len(buf)-1] != '\n' {
						b.Fatalf("record of %d bytes, want %d", len(buf), want)
					}
				}
				cpu.report(b)
				b.ReportMetric(float64(want), "record-B")
			})
		}
	}
}

// BenchmarkServeLine runs ServeLine from GOMAXPROCS goroutines, each with
// its own Request (as a Server's readers have), into a store that answers
// 204 at once: shards=1 is one mutex-guarded batch shared by all, the
// default one shard per CPU. Batches are sealed, compressed and sent as
// they fill.
func BenchmarkServeLine(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, shards := range []int{1, 0} {
		for _, codec := range []string{"none", "gzip"} {
			name := fmt.Sprintf("shards=%d/%s", shards, codec)
			if shards == 0 {
				name = "shards=cpu/" + codec
			}
			b.Run(name, func(b *testing.B) {
				fw := testForwarder(b, "jsonline+"+srv.URL+"/insert/jsonline?compress="+codec, Options{shards: shards, Block: true})
				lines := benchLines(b)
				line := lines[1].r.Line
				format := lines[1].r.Format()
				b.ReportAllocs()
				b.SetBytes(int64(len(line)))
				b.RunParallel(func(pb *testing.PB) {
					p := ingest.Parser{Format: format}
					var r ingest.Request
					if err := p.Parse(&r, bytes.Clone(line)); err != nil {
						panic(err)
					}
					for pb.Next() {
						fw.ServeLine(&r)
					}
				})
				b.StopTimer()
				shutdown(b, fw)
				if s := fw.Stats().Sinks[0]; s.Dropped != 0 || s.Sent == 0 {
					b.Fatalf("%+v", s)
				}
			})
		}
	}
}

// BenchmarkCompress compresses a batch of 1 MiB of jsonline records with
// each codec, as a sink does before it queues the batch. The lines vary
// as real ones do: combined250 is combined lines of about 250 bytes
// (addresses, paths with ids, statuses, sizes, a few user agents),
// upstream2k the test format with 2 KiB paths, which repeat one pattern
// from line to line, random2k the same with paths of random base64
// characters, as tokens in long queries are: real long paths lie in
// between. ns/op is per batch;
// cpu-ns/line is the CPU time per line, wire-B/line the bytes on the
// wire per line, raw-B/line those of the records.
func BenchmarkCompress(b *testing.B) {
	f := mustFormat(b)
	rng := rand.New(rand.NewPCG(7, 8))
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, fixture := range []string{"combined250", "upstream2k", "random2k"} {
		fw := testForwarder(b, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{})
		enc, w := fw.shards[0].enc, &fw.sinks[0].wire
		var batch, line []byte
		n := 0
		var r ingest.Request
		for i := 0; len(batch) < 1<<20-16<<10; i++ {
			at := time.Unix(1760104536, 0).Add(time.Duration(i) * time.Millisecond)
			p := ingest.Parser{Format: f}
			if fixture == "combined250" {
				line = appendCombined(line[:0], i, at)
				p.Format = nil
			} else {
				line = appendLine(line[:0], i, at, 2048)
			}
			if fixture == "random2k" {
				from := bytes.Index(line, []byte("/orders/")) + len("/orders/")
				to := bytes.IndexByte(line, '?')
				for k := from; k < to; k++ {
					line[k] = b64[rng.IntN(64)]
				}
			}
			if err := p.Parse(&r, line); err != nil {
				b.Fatal(err)
			}
			batch = enc.append(batch, &r, w)
			n++
		}
		for _, k := range []codecKind{codecGzip, codecZstd} {
			b.Run(fixture+"/"+codecNames[k], func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(batch)))
				var out []byte
				cpu := startCPU()
				for b.Loop() {
					out = k.compress(batch)
					if len(out) == 0 || len(out) >= len(batch) {
						b.Fatalf("compressed %d to %d", len(batch), len(out))
					}
				}
				if t, ok := cpuTime(); ok {
					b.ReportMetric(float64(t-time.Duration(cpu))/float64(b.N)/float64(n), "cpu-ns/line")
				}
				b.ReportMetric(float64(len(out))/float64(n), "wire-B/line")
				b.ReportMetric(float64(len(batch))/float64(n), "raw-B/line")
			})
		}
	}
}

// BenchmarkKafka produces lines through a Kafka sink into an in-process
// cluster (kfake, one broker, three partitions), one line per Kafka
// record against 16. ns/op is per line, from the first ServeLine to the
// last acknowledgement (Shutdown); cpu-ns/op is the CPU time of the whole
// process per line: the producer's, and the in-process broker's, which
// handles each batch whole. Run it with a fixed -benchtime (such as
// 20000x): the cluster keeps every record in memory.
func BenchmarkKafka(b *testing.B) {
	lines := benchLines(b)
	for _, l := range []int{0, 2} {
		line := lines[l]
		for _, perRecord := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/lines=%d", line.name, perRecord), func(b *testing.B) {
				c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "nginx"))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				fw, err := New([]string{"kafka://" + c.ListenAddrs()[0] + "/nginx"}, Options{
					Logger: quiet, KafkaLinesPerRecord: perRecord, Block: true})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(line.r.Line)))
				cpu := startCPU()
				b.ResetTimer()
				for range b.N {
					fw.ServeLine(line.r)
				}
				shutdown(b, fw)
				b.StopTimer()
				cpu.report(b)
				if s := fw.Stats().Sinks[0]; s.Sent != uint64(b.N) {
					b.Fatalf("sent %d of %d lines: %+v", s.Sent, b.N, s)
				}
			})
		}
	}
}
