package client

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
)

// BroadcastParams is the template and data of a broadcast: every field of a
// message but the recipient.
type BroadcastParams struct {
	AppID      string
	Kind       wxnotify.MessageKind
	TemplateID string
	// Data is every recipient's data; a recipient's own Data overrides
	// keywords of it.
	Data             map[string]string
	Page             string
	MiniprogramState string
	Lang             string
	EmphasisKeyword  string
	SendAt           time.Time
	TTL              time.Duration
	WaitForCredit    bool
}

// BroadcastResult is the answer to CreateBroadcast.
type BroadcastResult = wxnotify.BroadcastResponse

// CreateBroadcast sends one template to many users: it streams recipients
// to the server as NDJSON while reading them, so they are never all in
// memory on either side, and returns once every message is stored.
//
// A bad recipient, or an error yielded by recipients, stops the upload: the
// messages stored before it stay queued and are sent. The error is then
// returned together with a result whose ID names the aborted broadcast when
// the server's answer names one (read GetBroadcast for what was stored); an
// upload cut short by the recipients' own error gets no answer to read.
// Errors are *wxnotify.Error as the server answered them (EINVALID naming
// "recipients[i].openid", EFORBIDDEN, ENOTFOUND), or the recipients' own.
func (c *Client) CreateBroadcast(ctx context.Context, p *BroadcastParams, recipients iter.Seq2[wxnotify.BroadcastRecipient, error]) (*BroadcastResult, error) {
	ctx, cancel := context.WithTimeout(ctx, wxnotify.MaxBroadcastUpload)
	defer cancel()
	hdr := &wxnotify.BroadcastRequest{
		AppID: p.AppID, Kind: p.Kind, TemplateID: p.TemplateID, Data: dataValues(p.Data), Page: p.Page,
		MiniprogramState: p.MiniprogramState, Lang: p.Lang, EmphasisKeyword: p.EmphasisKeyword,
		WaitForCredit: p.WaitForCredit,
	}
	if !p.SendAt.IsZero() {
		hdr.SendAt = &p.SendAt
	}
	if p.TTL > 0 {
		hdr.TTL = p.TTL.String()
	}

	pr, pw := io.Pipe()
	var srcErr error // an error of recipients; read after wrote is closed
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		bw := bufio.NewWriterSize(pw, 64<<10)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		err := enc.Encode(hdr)
		if err == nil {
			for r, rerr := range recipients {
				if rerr != nil {
					srcErr, err = rerr, rerr
					break
				}
				if err = enc.Encode(recipientLine(r)); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err) // nil: EOF, the body is complete
	}()
	defer func() {
		pr.CloseWithError(errors.New("request finished")) // unblocks the writer
		<-wrote
	}()

	req, err := c.newRequest(ctx, http.MethodPost, "/v1/broadcasts", nil, pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.send(ctx, req)
	if err != nil {
		pr.CloseWithError(err)
		<-wrote
		if srcErr != nil {
			return nil, fmt.Errorf("read recipients: %w", srcErr)
		}
		return nil, err
	}
	defer resp.Body.Close()
	var out BroadcastResult
	if err := decodeResponse(resp, &out); err != nil {
		if id := locationID(resp.Header.Get("Location")); id > 0 {
			out.ID, out.State = id, wxnotify.BroadcastAborted
			return &out, err
		}
		return nil, err
	}
	return &out, nil
}

// recipientLine is a recipient as the NDJSON body carries it: a bare
// openid string when it has no data of its own.
func recipientLine(r wxnotify.BroadcastRecipient) any {
	if len(r.Data) == 0 {
		return r.OpenID
	}
	return r
}

func locationID(loc string) int64 {
	if loc == "" {
		return 0
	}
	id, _ := strconv.ParseInt(path.Base(loc), 10, 64)
	return id
}

// GetBroadcast returns a broadcast with its messages counted by state
// (Counts, Total, Pending). Returns ENOTFOUND.
func (c *Client) GetBroadcast(ctx context.Context, id int64) (*wxnotify.Broadcast, error) {
	var out wxnotify.Broadcast
	if _, err := c.do(ctx, http.MethodGet, idPath("/v1/broadcasts", id, ""), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// BroadcastListParams filters GET /v1/broadcasts. Zero fields are not
// filtered on.
type BroadcastListParams struct {
	AppID string
	State wxnotify.BroadcastState
	// Before pages: only broadcasts with a smaller id (pass the previous
	// page's NextBefore).
	Before int64
	// Limit is the page size, 1 to wxnotify.MaxBroadcastPage; 0 means the
	// server's wxnotify.DefaultBroadcastPage.
	Limit int
}

// ListBroadcasts returns one page of the broadcasts of the apps the key may
// act for, newest first, each with its messages counted by state; a
// broadcast whose last message has ended is wxnotify.BroadcastFinished.
// Returns EINVALID naming the field for a bad filter (an unknown state),
// EFORBIDDEN when AppID names an app the key may not act for.
func (c *Client) ListBroadcasts(ctx context.Context, p BroadcastListParams) (*wxnotify.BroadcastList, error) {
	q := url.Values{}
	if p.AppID != "" {
		q.Set("appid", p.AppID)
	}
	if p.State != "" {
		q.Set("state", string(p.State))
	}
	if p.Before > 0 {
		q.Set("before", strconv.FormatInt(p.Before, 10))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out wxnotify.BroadcastList
	if _, err := c.do(ctx, http.MethodGet, "/v1/broadcasts", q, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// Broadcasts iterates over every broadcast the filter selects, newest
// first, fetching a page at a time. An error ends the iteration after it is
// yielded.
func (c *Client) Broadcasts(ctx context.Context, p BroadcastListParams) iter.Seq2[*wxnotify.Broadcast, error] {
	return func(yield func(*wxnotify.Broadcast, error) bool) {
		for {
			page, err := c.ListBroadcasts(ctx, p)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, b := range page.Broadcasts {
				if !yield(b, nil) {
					return
				}
			}
			if page.NextBefore == 0 {
				return
			}
			p.Before = page.NextBefore
		}
	}
}

// Recipients yields one recipient per openid, with no data of their own.
func Recipients(openIDs ...string) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for _, id := range openIDs {
			if !yield(wxnotify.BroadcastRecipient{OpenID: id}, nil) {
				return
			}
		}
	}
}

// CSVRecipients reads recipients from CSV as it is iterated, one row at a
// time: a header row naming an "openid" column, and any other columns as
// keywords ("thing1") whose non-empty cells override the broadcast's data
// for that row's recipient. A row that cannot be read yields an EINVALID
// error naming its line, and ends the iteration.
func CSVRecipients(r io.Reader) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		cr := csv.NewReader(r)
		cr.ReuseRecord = true
		cr.FieldsPerRecord = 0 // every row as wide as the header
		header, err := cr.Read()
		if err == io.EOF {
			yield(wxnotify.BroadcastRecipient{}, wxnotify.Errorf(wxnotify.EINVALID, "csv: empty: want a header row with an openid column"))
			return
		} else if err != nil {
			yield(wxnotify.BroadcastRecipient{}, csvError(err))
			return
		}
		header = append([]string(nil), header...)
		col := -1
		for i, h := range header {
			h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // a BOM from spreadsheet exports
			header[i] = h
			if h == "openid" {
				col = i
			}
		}
		if col < 0 {
			yield(wxnotify.BroadcastRecipient{}, wxnotify.Errorf(wxnotify.EINVALID, "csv: the header row has no openid column"))
			return
		}
		for {
			row, err := cr.Read()
			if err == io.EOF {
				return
			} else if err != nil {
				yield(wxnotify.BroadcastRecipient{}, csvError(err))
				return
			}
			rec := wxnotify.BroadcastRecipient{OpenID: strings.TrimSpace(row[col])}
			for i, v := range row {
				if i == col || v == "" || header[i] == "" {
					continue
				}
				if rec.Data == nil {
					rec.Data = make(map[string]string, len(row)-1)
				}
				rec.Data[header[i]] = v
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return wxnotify.Errorf(wxnotify.EINVALID, "csv line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("read csv: %w", err)
}
