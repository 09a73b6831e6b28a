package forward

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafka sends 100,000 lines at 20,000/s to an in-process Kafka cluster
// of three brokers, stops one of them for 2 s in the middle and starts it
// again on the same port, and reads the topic back: every line exactly
// once.
func TestKafka(t *testing.T) { testKafka(t, 1, e2eLines, true) }

// TestKafka_LinesPerRecord packs 16 lines per Kafka record.
func TestKafka_LinesPerRecord(t *testing.T) { testKafka(t, 16, e2eLines/5, false) }

func testKafka(t *testing.T, linesPerRecord, lines int, restart bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "nginx"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	fw, err := New([]string{"kafka://" + strings.Join(addrs, ",") + "/nginx"}, Options{
		Logger: quiet, KafkaLinesPerRecord: linesPerRecord,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	fd := feeder{fw: fw, format: mustFormat(t)}
	done := make(chan int)
	go func() { done <- fd.run(t, lines, e2eRate, 2, e2ePath, base) }()
	if restart {
		deadline := time.Now().Add(30 * time.Second)
		for fw.Stats().Sinks[0].Sent < uint64(lines/4) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		// Stop the broker that leads partition 0, and start it again.
		node := c.LeaderFor("nginx", 0)
		port := portOfNode(t, c, node, addrs)
		if err := c.RemoveNode(node); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if _, _, err := c.AddNode(node, port); err != nil {
			t.Fatal(err)
		}
	}
	sent := <-done
	ensure(t, sent == lines, "sent %d lines", sent)
	shutdown(t, fw)
	s := fw.Stats().Sinks[0]
	t.Logf("%+v", s)
	ensure(t, s.Sent == uint64(lines) && s.Dropped == 0 && s.Rejected == 0, "stats %+v", s)

	// Read the topic back.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("nginx"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := make([]uint8, lines)
	got, records := 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := []byte(`"request_id":"`)
	for got < lines && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			records++
			for _, line := range bytes.Split(r.Value, []byte("\n")) {
				i := bytes.Index(line, key)
				ensure(t, i >= 0, "no request_id in %.200s", line)
				var id int
				fmt.Sscanf(string(line[i+len(key):i+len(key)+32]), "%x", &id)
				ensure(t, id >= 0 && id < lines, "request_id %d", id)
				seen[id]++
				got++
			}
		})
	}
	for i, n := range seen {
		ensure(t, n == 1, "line %d read %d times", i, n)
	}
	ensure(t, got == lines, "read %d lines", got)
	t.Logf("%d lines in %d records", got, records)
	ensure(t, records >= lines/linesPerRecord && records < lines/linesPerRecord*2, "%d records for %d lines, %d a record", records, lines, linesPerRecord)
}

// portOfNode returns the port of broker node: ListenAddrs lists the
// brokers in node order.
func portOfNode(t *testing.T, c *kfake.Cluster, node int32, addrs []string) int {
	t.Helper()
	a := addrs[node]
	var port int
	if _, err := fmt.Sscanf(a[strings.LastIndexByte(a, ':')+1:], "%d", &port); err != nil {
		t.Fatal(err)
	}
	return port
}
