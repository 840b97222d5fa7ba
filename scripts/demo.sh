#!/usr/bin/env bash
# The main job, end to end on one machine: local Redis (standalone + 6-node cluster) up ->
# the connector's CLI turns the outputs document into REDIS_* env lines -> the examples app
# runs the four modes and prints what it read -> what the Pulumi component declares (under
# Pulumi's mocks) -> everything torn down (also on failure or Ctrl-C).
#
# Installs what it lacks: redis-server/redis-tools (Debian, apt-get) and node_modules (npm ci).
# The password stays out of argv and off disk except the runner's 0600 outputs file in a
# private temp dir, removed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }


WORK_DIR=""
STACK_UP=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$STACK_UP" -eq 1 ]; then
    step "tearing down the local stack"
    timeout 60 npx --no-install redis-local down --state-dir "$WORK_DIR/state" \
      || printf 'demo: teardown reported a problem (see above)\n' >&2
  fi
  [ -n "$WORK_DIR" ] && rm -rf "$WORK_DIR"
  if [ "$status" -eq 0 ]; then step "done"; else printf '\ndemo: FAILED (exit %s)\n' "$status" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "checking prerequisites"
command -v node >/dev/null 2>&1 || fail "node (>= 20) is required"
bash scripts/ensure-redis.sh
printf 'node %s, %s\n' "$(node --version)" "$(redis-server --version | cut -d' ' -f1-3)"
bash scripts/ensure-node-modules.sh

step "building the packages"
npm run build --silent

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/redis-demo.XXXXXX")"
chmod 700 "$WORK_DIR"
OUTPUTS="$WORK_DIR/outputs.json"

step "starting the local stack with redis-local (@redis-on-docker/local): standalone + 3 masters / 3 replicas on 127.0.0.1"
STACK_UP=1
timeout 120 npx --no-install redis-local up \
  --state-dir "$WORK_DIR/state" --outputs "$OUTPUTS"

step "outputs document -> REDIS_* env lines (redis-connector env, from @redis-on-docker/connector)"
ENV_LINES="$(node connector/dist/cli.js env --file "$OUTPUTS" --format shell --include-secrets)"
printf '%s\n' "$ENV_LINES" | sed -E "s/^(export REDIS_PASSWORD=).*/\1'<redacted>'/"

step "running the examples app (examples/src/main.ts) with only those env lines"
(
  # Only the CLI's lines configure the app: any REDIS_* of this shell is dropped first.
  # (Plain exports: the password never lands on a command line.)
  for name in $(compgen -e); do case "$name" in REDIS_*) unset "$name" ;; esac; done
  eval "$ENV_LINES"
  exec timeout 120 npm run --silent start -w examples
)

step "the same topology in a Pulumi program: new RedisOnDocker(...) from @redis-on-docker/pulumi on its own docker.Provider (Pulumi's mocks: no Pulumi CLI or Docker needed)"
timeout 60 npm run --silent pulumi-preview -w examples
