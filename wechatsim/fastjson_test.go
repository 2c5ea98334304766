package wechatsim

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeSubscribe checks the hand-written decoder against encoding/json: same result, same
// failure, for bodies on and off its fast path.
func TestDecodeSubscribe(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"touser":"oU","template_id":"T","page":"p","miniprogram_state":"formal","lang":"zh_CN","data":{"thing1":{"value":"无线耳机"},"time2":{"value":"15:01"}}}`,
		` { "touser" : "oU" , "data" : { "thing1" : { "value" : "a" , "color" : "#fff" } } } `,
		`{"data":{"thing1":{"value":"a"},"thing1":{"value":"b"}}}`,
		`{}`,
		`{"data":{}}`,
		`{"touser":"o\"U"}`,
		`{"touser":"o\u00e9"}`,
		`{"TOUSER":"oU"}`,
		`{"data":{"thing1":{"Value":"x"}}}`,
		`{"data":{"thing1":{"value":1}}}`,
		`{"touser":null}`,
		`{"extra":[1,2],"touser":"oU"}`,
		`{"touser":"oU"`,
		`{"touser":"oU"}x`,
		`{"touser":"` + "\xff" + `"}`,
		`{"data":"{\"thing1\":{\"value\":\"x\"}}"}`,
		``,
		`[]`,
	} {
		var want subscribeRequest
		wantErr := json.Unmarshal([]byte(body), &want)
		var got subscribeRequest
		gotErr := decodeSubscribe([]byte(body), &got)
		if (wantErr == nil) != (gotErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v, %v", body, got, gotErr, want, wantErr)
		}
	}
}
