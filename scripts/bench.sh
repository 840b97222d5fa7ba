#!/usr/bin/env bash
# `npm run bench [-- --quick]`: builds the connector, then runs bench/run.ts (see BENCHMARKS.md).
# The bench bounds itself (and stops its servers); `timeout` is the backstop should it hang.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in redis-server redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (run: bash scripts/ensure-redis.sh)" >&2; exit 1; }
done

npm run --silent build
# Interrupt first so the bench stops its servers, kill if it does not end.
exec timeout --foreground --signal=INT --kill-after=15s 260s \
  node -r ts-node/register/transpile-only bench/run.ts "$@"
