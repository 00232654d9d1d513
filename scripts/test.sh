#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh
# machine (ffmpeg from Debian packages when it is missing), checks
# formatting and vet, runs the unit tests (race detector on the concurrent
# packages), the end-to-end tests and the benchmarks' short mode.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-tools.sh ffmpeg mpv nftables

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== unit tests (race detector on the concurrent packages)"
go test -race -count=1 ./buffer/... ./gossip/... ./dht/... ./node/... ./internal/...
go test -count=1 . ./media/... ./cmd/...

echo "== end-to-end tests"
go test -count=1 -timeout 10m ./e2e/...

echo "== benchmarks, short mode (a smoke test; scripts/bench.sh runs the suite)"
go test -count=1 -short -run '^$' -bench . -benchtime 1x ./e2e/
