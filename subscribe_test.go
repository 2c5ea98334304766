package wxnotify_test

import (
	"testing"

	"github.com/wxnotify/wxnotify"
)

func TestParseSubscribeChoice(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]wxnotify.SubscribeChoice{
		"accept": wxnotify.SubscribeAccept, "acceptWithAudio": wxnotify.SubscribeAccept,
		"acceptWithAlert": wxnotify.SubscribeAccept, "acceptWithForcePush": wxnotify.SubscribeAccept,
		"reject": wxnotify.SubscribeReject, "ban": wxnotify.SubscribeBan, "filter": wxnotify.SubscribeFilter,
	} {
		if got, ok := wxnotify.ParseSubscribeChoice(v); !ok || got != want {
			t.Errorf("ParseSubscribeChoice(%q)=%q, %v; want %q", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "Accept", "accepted", "maybe", "acceptwithaudio"} {
		if got, ok := wxnotify.ParseSubscribeChoice(v); ok {
			t.Errorf("ParseSubscribeChoice(%q)=%q, want refused", v, got)
		}
	}
}
