package http

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Bounded reading of streamed bodies. A body of many values (a broadcast's
// recipients) may be hundreds of megabytes; each value in it is small. The
// readers here refuse a value as soon as more than its cap has been read,
// so memory is bounded by the number of uploads in flight times the cap,
// never by the longest line a client sends.

// tooLongError is a line or value over its cap.
type tooLongError struct {
	line int // 1-based line of an NDJSON body; 0 for a value of a JSON body
	max  int
}

func (e *tooLongError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d is longer than %d bytes; refused before reading the rest of it", e.line, e.max)
	}
	return fmt.Sprintf("longer than %d bytes; refused before reading the rest of it", e.max)
}

// lineReader reads the lines of an NDJSON body, each at most max bytes
// (its newline and surrounding blanks not counted), skipping blank ones.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int    // the line last returned, 1-based
	buf  []byte // the line being read, reused
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 16<<10), max: max}
}

// next returns the next non-blank line, trimmed, valid until the next call;
// io.EOF after the last; a *tooLongError as soon as a line passes max.
func (l *lineReader) next() ([]byte, error) {
	for {
		l.line++
		l.buf = l.buf[:0]
		var err error
		for {
			var frag []byte
			frag, err = l.br.ReadSlice('\n')
			// Blanks before the value do not count, nor stay in memory.
			l.buf = bytes.TrimLeft(append(l.buf, frag...), " \t\r")
			if len(l.buf) > l.max+2 { // +2: "\r\n"
				return nil, &tooLongError{line: l.line, max: l.max}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		line := bytes.TrimSpace(l.buf)
		if len(line) > l.max {
			return nil, &tooLongError{line: l.line, max: l.max}
		}
		switch {
		case err != nil && err != io.EOF:
			return nil, err
		case len(line) > 0:
			return line, nil
		case err == io.EOF:
			return nil, io.EOF
		}
	}
}

// valueCap is the reader under a json.Decoder that reads a stream of
// values: it lets the decoder read at most max bytes past the start of the
// value it is decoding (dec.InputOffset: the decoder consumes a value only
// once it is whole), so a value longer than max fails with a *tooLongError
// after about max bytes of it were read, whatever its length.
type valueCap struct {
	r    io.Reader
	dec  *json.Decoder
	max  int
	read int64 // bytes handed to the decoder
}

func (c *valueCap) Read(p []byte) (int, error) {
	room := c.dec.InputOffset() + int64(c.max) - c.read
	if room <= 0 {
		return 0, &tooLongError{max: c.max}
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
