package loadtest

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// ChartSVG draws accepted/s and delivered/s over the load, with the
// bare-HTTP limit of the same run; call it after Run. title is the chart's
// first line.
func (b *Bench) ChartSVG(title string) []byte {
	return chartSVG(title, &b.res, b.samples, b.accepts[:b.c.N])
}

func chartSVG(title string, res *Result, samples []sample, accepts []atomic.Int64) []byte {
	const (
		w, h                 = 820, 380
		left, right, top, bt = 70, 20, 40, 50
	)
	// Rates over a moving window of 5 samples (0.5 s), shorter for tiny runs.
	window := max(1, min(5, len(samples)-1))
	type pt struct{ x, y float64 }
	var delivered []pt
	for i := window; i < len(samples); i++ {
		a, b := samples[i-window], samples[i]
		delivered = append(delivered, pt{b.At.Seconds(), float64(b.Delivered-a.Delivered) / (b.At - a.At).Seconds()})
	}
	// Accepts in sampleEvery buckets, then the same moving window.
	var end time.Duration
	if len(samples) > 0 {
		end = samples[len(samples)-1].At
	}
	nb := int(end/sampleEvery) + 1
	buckets := make([]int, nb)
	for i := range accepts {
		if a := time.Duration(accepts[i].Load()); a != 0 && int(a/sampleEvery) < nb {
			buckets[a/sampleEvery]++
		}
	}
	var accepted []pt
	sum := 0
	for i := range buckets {
		sum += buckets[i]
		if i >= window {
			sum -= buckets[i-window]
		}
		if i+1 >= window {
			accepted = append(accepted, pt{(time.Duration(i+1) * sampleEvery).Seconds(), float64(sum) / (time.Duration(window) * sampleEvery).Seconds()})
		}
	}
	maxX, maxY := end.Seconds(), 1.0
	for _, p := range slices.Concat(delivered, accepted) {
		maxY = max(maxY, p.y)
	}
	maxX = max(maxX, 0.1)
	maxY = niceCeil(max(maxY, res.LimitPerSec))
	px := func(x float64) float64 { return left + x/maxX*(w-left-right) }
	py := func(y float64) float64 { return top + (1-y/maxY)*(h-top-bt) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13">%s</text>`+"\n", left, html.EscapeString(title))
	for i := 0; i <= 5; i++ {
		y := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, w-right, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-6, py(y)+4, y)
	}
	step := niceCeil(maxX / 8)
	for x := 0.0; x <= maxX+1e-9; x += step {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>`, px(x), px(x), top, h-bt)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", px(x), h-bt+16, x)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since the first request</text>`+"\n", (left+w-right)/2, h-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">messages/s (%.1f s window)</text>`+"\n", (top+h-bt)/2, (time.Duration(window) * sampleEvery).Seconds())
	line := func(ps []pt, color string) {
		if len(ps) == 0 {
			return
		}
		b.WriteString(`<polyline fill="none" stroke-width="1.8" stroke="` + color + `" points="`)
		for _, p := range ps {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p.x), py(p.y))
		}
		b.WriteString("\"/>\n")
	}
	line(accepted, "#999")
	line(delivered, "#1f6feb")
	if res.LimitPerSec > 0 && res.LimitPerSec <= maxY {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d73a49" stroke-dasharray="6 4"/>`+"\n", left, w-right, py(res.LimitPerSec), py(res.LimitPerSec))
	}
	lx := w - right - 250
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#1f6feb" stroke-width="2"/><text x="%d" y="%d">delivered/s (simulator)</text>`+"\n", lx, lx+24, top+10, top+10, lx+30, top+14)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999" stroke-width="2"/><text x="%d" y="%d">accepted/s (202s)</text>`+"\n", lx, lx+24, top+28, top+28, lx+30, top+32)
	if res.LimitPerSec > 0 && res.LimitPerSec <= maxY {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#d73a49" stroke-dasharray="6 4"/><text x="%d" y="%d">bare-HTTP limit, same run</text>`+"\n", lx, lx+24, top+46, top+46, lx+30, top+50)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
