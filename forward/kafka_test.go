package forward

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafka sends e2eLines lines to an in-process Kafka cluster of three
// brokers: a third, then a third while the broker that leads partition 0
// is stopped (for e2eOutage at least), then the last third once it is
// started again on the same port; it reads the topic back: every line
// exactly once.
func TestKafka(t *testing.T) { testKafka(t, 1) }

// TestKafka_LinesPerRecord does the same with 16 lines per Kafka record.
func TestKafka_LinesPerRecord(t *testing.T) { testKafka(t, 16) }

func testKafka(t *testing.T, linesPerRecord int) {
	var conns connTracker
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "nginx"), kfake.ListenFn(conns.listen))
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
	sink := func() SinkStats { return fw.Stats().Sinks[0] }
	lines := e2eLines
	fd := feeder{fw: fw, format: mustFormat(t), base: time.Now().Add(-time.Hour).Truncate(time.Second)}
	fd.send(t, 0, lines/3, e2eRate, e2ePath)
	waitFor(t, "records acknowledged before the outage", 60*time.Second, func() bool { return sink().Sent > 0 })

	// Stop the broker that leads partition 0, and start it again. A broker
	// that stops closes its connections: RemoveNode only closes the
	// listener, and a client would go on talking to the removed broker
	// over the connections it has, which answers "not the leader" for
	// ever once the node is back.
	node := c.LeaderFor("nginx", 0)
	port := portOfNode(t, c, node, addrs)
	if err := c.RemoveNode(node); err != nil {
		t.Fatal(err)
	}
	conns.close(port)
	down := time.Now()
	fd.send(t, lines/3, 2*lines/3, e2eRate, e2ePath)
	fw.Flush()
	time.Sleep(time.Until(down.Add(e2eOutage))) // the outage lasts e2eOutage at least
	if _, _, err := c.AddNode(node, port); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker %d down for %v", node, time.Since(down))
	fd.send(t, 2*lines/3, lines, e2eRate, e2ePath)
	shutdown(t, fw)
	s := sink()
	t.Logf("%+v", s)
	ensure(t, s.Sent == uint64(lines) && s.Dropped == 0 && s.Rejected == 0, "stats %+v", s)
	ensure(t, fw.Stats().BudgetBytes == 0, "budget holds %d bytes after Shutdown", fw.Stats().BudgetBytes)

	records, _ := readTopic(t, c, lines)
	ensure(t, records >= lines/linesPerRecord && records < lines/linesPerRecord*2, "%d records for %d lines, %d a record", records, lines, linesPerRecord)
}

// TestKafka_RecordSize: many lines per record make records no longer than
// the producer takes (1 MiB a batch): a batch of 4 MiB of 4.8 KB lines
// becomes records of at most maxKafkaValue bytes, and nothing is lost.
func TestKafka_RecordSize(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "nginx"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fw, err := New([]string{"kafka://" + c.ListenAddrs()[0] + "/nginx"}, Options{
		Logger: quiet, KafkaLinesPerRecord: 10000, BatchBytes: 4 << 20, Block: true})
	if err != nil {
		t.Fatal(err)
	}
	const lines = 2000
	fd := feeder{fw: fw, format: mustFormat(t), base: time.Now().Add(-time.Hour).Truncate(time.Second)}
	fd.send(t, 0, lines, 0, e2ePath)
	shutdown(t, fw)
	s := fw.Stats().Sinks[0]
	ensure(t, s.Sent == lines && s.Dropped == 0 && s.Rejected == 0, "stats %+v", s)
	records, longest := readTopic(t, c, lines)
	t.Logf("%d lines in %d records, the longest %d bytes", lines, records, longest)
	ensure(t, longest <= maxKafkaValue, "a record of %d bytes", longest)
	ensure(t, records >= lines*4800/maxKafkaValue, "%d records", records)
}

// readTopic reads the topic nginx of c back until it has lines lines,
// checks that each line of the test format is there exactly once, and
// returns the number of records and the longest value.
func readTopic(t *testing.T, c *kfake.Cluster, lines int) (records, longest int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("nginx"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := make([]uint8, lines)
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key := []byte(`"request_id":"`)
	for got < lines && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			records++
			longest = max(longest, len(r.Value))
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
	ensure(t, got == lines, "read %d lines of %d", got, lines)
	t.Logf("%d lines in %d records", got, records)
	return records, longest
}

// connTracker is a kfake.ListenFn that keeps the connections each
// listener accepted, so that a test can close those of a broker it stops.
type connTracker struct {
	mu    sync.Mutex
	conns map[int][]net.Conn // by local port
}

func (ct *connTracker) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return &trackedListener{ln, ct}, nil
}

// close closes the connections accepted on port.
func (ct *connTracker) close(port int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, c := range ct.conns[port] {
		c.Close()
	}
	delete(ct.conns, port)
}

type trackedListener struct {
	net.Listener
	ct *connTracker
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.ct.mu.Lock()
	if l.ct.conns == nil {
		l.ct.conns = make(map[int][]net.Conn)
	}
	l.ct.conns[port] = append(l.ct.conns[port], c)
	l.ct.mu.Unlock()
	return c, nil
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
