package main

import (
	"bytes"
	"io"
	"strings"

	"github.com/rivo/uniseg"
)

// table lays out tab-separated cells in columns, like text/tabwriter with
// two spaces between columns, but measures each cell in terminal columns:
// a Chinese character (East Asian wide) takes two, a combining mark none.
// tabwriter counts runes, so a title such as 订单发货通知 pushed the
// columns after it out of line.
//
// Write it like a tabwriter (fmt.Fprintf(t, "%s\t%s\n", …)), then Flush.
// Each line is cells separated by tabs; the text after a line's last tab
// is not padded. A line without a tab is printed as it is.
type table struct {
	w    io.Writer
	buf  bytes.Buffer
	rows [][]string
}

func newTable(w io.Writer) *table { return &table{w: w} }

// Write buffers p; complete lines become rows.
func (t *table) Write(p []byte) (int, error) {
	t.buf.Write(p)
	for {
		line, err := t.buf.ReadString('\n')
		if err != nil { // no newline yet: keep the partial line
			t.buf.Reset()
			t.buf.WriteString(line)
			return len(p), nil
		}
		t.rows = append(t.rows, strings.Split(strings.TrimSuffix(line, "\n"), "\t"))
	}
}

// Flush writes the rows, aligned, and forgets them.
func (t *table) Flush() error {
	if t.buf.Len() > 0 {
		t.rows = append(t.rows, strings.Split(t.buf.String(), "\t"))
		t.buf.Reset()
	}
	var widths []int
	for _, r := range t.rows {
		for i := 0; i < len(r)-1; i++ { // the last cell is not padded
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], uniseg.StringWidth(r[i]))
		}
	}
	var out strings.Builder
	for _, r := range t.rows {
		for i, cell := range r {
			out.WriteString(cell)
			if i < len(r)-1 {
				out.WriteString(strings.Repeat(" ", widths[i]-uniseg.StringWidth(cell)+2))
			}
		}
		out.WriteString("\n")
	}
	t.rows = nil
	_, err := io.WriteString(t.w, out.String())
	return err
}
