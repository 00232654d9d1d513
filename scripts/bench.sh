#!/usr/bin/env bash
# Runs the benchmark suite (e2e/bench_test.go) and redraws the figures of
# docs/PERFORMANCE.md and the chart docs/perf.svg from its output, which
# is kept in docs/bench.txt (benchstat reads it: `benchstat old.txt
# docs/bench.txt`). Arguments go to `go test`, e.g. -bench 'ChannelSim$'
# to run part of the suite (the page then shows only that part).
# P2PTVD_BENCH_COMMIT names what was measured where git cannot (an export
# of an older commit with today's suite).
set -euo pipefail
cd "$(dirname "$0")/.."

commit=${P2PTVD_BENCH_COMMIT:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo '+changes')}

out=docs/bench.txt
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
	echo "commit: $commit"
	echo "date: $(date -u +%Y-%m-%d)"
	echo "go: $(go env GOVERSION)"
	echo "cores: $(nproc)"
	go test ./e2e -run '^$' -bench . -benchtime 1x -timeout 60m "$@"
} | tee "$tmp"
cp "$tmp" "$out"
# docs/history/*.txt are past runs kept by hand, one per design of the
# chunk path; the page sets them side by side.
go run ./e2e/perfchart -in "$out" -md docs/PERFORMANCE.md -svg docs/perf.svg -history 'docs/history/*.txt'
echo "wrote $out, docs/PERFORMANCE.md, docs/perf.svg"
