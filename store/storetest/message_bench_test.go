package storetest_test

import (
	"testing"

	"github.com/wxnotify/wxnotify/store/storetest"
)

// BenchmarkMessageQueue runs storetest.MessageQueueBenchmark on every engine:
//
//	go test ./store/storetest -run '^$' -bench MessageQueue -benchtime 5x
//	WXNOTIFY_TEST_POSTGRES=postgres://… go test ./store/storetest -run '^$' -bench MessageQueue -benchtime 5x
func BenchmarkMessageQueue(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) { storetest.MessageQueueBenchmark(b, e.NewDB) })
	}
}
