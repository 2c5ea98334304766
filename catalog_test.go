package wxnotify_test

import (
	"fmt"
	"testing"

	"github.com/wxnotify/wxnotify"
)

func TestParseTemplateKeywords(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, content, want string
	}{
		{"Subscribe", "商品名称:{{thing1.DATA}}\n发货时间：{{time2.DATA}}\n", "[{thing1 商品名称 thing} {time2 发货时间 time}]"},
		{"Legacy", "购买地点{{keyword1.DATA}}\n购买时间{{keyword2.DATA}}\n", "[{keyword1 购买地点 keyword} {keyword2 购买时间 keyword}]"},
		{"OneLine", "A:{{thing1.DATA}} B:{{character_string2.DATA}}", "[{thing1 A thing} {character_string2 B character_string}]"},
		{"Repeated", "{{thing1.DATA}}{{thing1.DATA}}", "[{thing1  thing}]"},
		{"None", "no keywords", "[]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fmt.Sprint(wxnotify.ParseTemplateKeywords(tt.content)); got != tt.want {
				t.Fatalf("ParseTemplateKeywords=%s, want %s", got, tt.want)
			}
		})
	}
}

func TestTruncateThing(t *testing.T) {
	t.Parallel()
	if got, cut := wxnotify.TruncateThing("一二三四五六七八九十一二三四五六七八九十"); cut || got != "一二三四五六七八九十一二三四五六七八九十" {
		t.Fatalf("20 characters: %q cut=%v, want unchanged", got, cut)
	}
	got, cut := wxnotify.TruncateThing("一二三四五六七八九十一二三四五六七八九十一")
	if !cut || got != "一二三四五六七八九十一二三四五六七八九…" {
		t.Fatalf("21 characters: %q cut=%v", got, cut)
	}
	if msg := wxnotify.ValidateKeyword(wxnotify.KeywordThing, got); msg != "" {
		t.Fatalf("truncated value breaks the thing rule: %s", msg)
	}
}

func TestValidateTemplateAlias(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"order_shipped", "a", "v2.paid-ok"} {
		if err := wxnotify.ValidateTemplateAlias(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Order", "1st", "QvSB7-4y8ROYxY2D3wC", "has space", string(make([]byte, 65))} {
		if err := wxnotify.ValidateTemplateAlias(bad); wxnotify.ErrorField(err) != "alias" {
			t.Errorf("%q: err=%v, want EINVALID naming alias", bad, err)
		}
	}
}

func TestTemplateAddValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		add   wxnotify.TemplateAdd
		field string
	}{
		{wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{1, 2}}, ""},
		{wxnotify.TemplateAdd{KeywordIDs: []int{1, 2}}, "tid"},
		{wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{1, 2, 3, 4, 5, 6}}, "kid_list"},
		{wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{1, 1}}, "kid_list"},
		{wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{1, 2}, SceneDesc: "一二三四五六七八九十一二三四五六"}, "scene_desc"},
		{wxnotify.TemplateAdd{Kind: wxnotify.MessageTemplate, TitleID: "AT0002", KeywordIDs: []int{3}}, ""},
		{wxnotify.TemplateAdd{Kind: "other", TitleID: "1", KeywordIDs: []int{3}}, "kind"},
	} {
		err := tt.add.Validate()
		if got := wxnotify.ErrorField(err); got != tt.field || (tt.field == "" && err != nil) {
			t.Errorf("%+v: err=%v, want field %q", tt.add, err, tt.field)
		}
	}
}
