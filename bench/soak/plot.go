package main

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writeSoakPlot draws the live heap and the RSS of every receiver over time,
// one panel each, on a log scale (the receivers differ by orders of
// magnitude), and writes them as one PNG to path.
func writeSoakPlot(path, title string, runs []*soakRun) error {
	live := newSoakPanel(title+": live heap after GC", "live heap (MiB, log scale)")
	rss := newSoakPanel("resident set size", "RSS (MiB, log scale)")
	for i, run := range runs {
		var livePts, rssPts plotter.XYs
		for _, row := range run.rows {
			x := row.elapsed.Seconds()
			if v := float64(row.sample.LiveBytes) / (1 << 20); v > 0 {
				livePts = append(livePts, plotter.XY{X: x, Y: v})
			}
			if v := float64(row.sample.RSS) / (1 << 20); row.sample.RSSKnown && v > 0 {
				rssPts = append(rssPts, plotter.XY{X: x, Y: v})
			}
		}
		if err := addSoakLine(live, run.name, i, livePts); err != nil {
			return err
		}
		if err := addSoakLine(rss, run.name, i, rssPts); err != nil {
			return err
		}
	}

	const width, height = 9 * vg.Inch, 8 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(8), PadBottom: vg.Points(8), PadX: vg.Points(8), PadY: vg.Points(16)}
	canvases := plot.Align([][]*plot.Plot{{live}, {rss}}, tiles, dc)
	live.Draw(canvases[0][0])
	rss.Draw(canvases[1][0])

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func newSoakPanel(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the load started"
	p.Y.Label.Text = ylabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(logTicks125)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

func addSoakLine(p *plot.Plot, name string, i int, pts plotter.XYs) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// logTicks125 labels a log axis at 1, 2 and 5 times the powers of ten in
// [lo, hi], so that a range narrower than a decade still gets labels.
func logTicks125(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := m * p; v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}
