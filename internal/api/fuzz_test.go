package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Any body gets either a channel ID and a timeout in range, or a 4xx:
// never a panic, never a 5xx.
func FuzzDecodeJoin(f *testing.F) {
	for _, s := range []string{
		`{"channel": "/channel/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}`,
		`{"channel": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "timeout": "5s"}`,
		`{"channel": 5}`, `{"timeout": "-1s"}`, `[]`, `{} {}`, ``, `{"channel": "/channel/x/y"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		id, timeout, code, err := decodeJoin(strings.NewReader(body))
		if err != nil {
			if code < 400 || code >= 500 {
				t.Fatalf("error %v with status %d", err, code)
			}
			return
		}
		if code != http.StatusOK || !id.Defined() || timeout <= 0 || timeout > 5*time.Minute {
			t.Fatalf("accepted %q: id %v timeout %v code %d", body, id, timeout, code)
		}
	})
}
