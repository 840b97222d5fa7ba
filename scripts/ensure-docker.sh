#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine, for the end-to-end test.
# Idempotent, needs no stdin, runs as root. Installs Debian's docker.io when dockerd is
# missing and starts dockerd in the background when the engine does not answer (CI machines
# may have no systemd). Fails with the reason (the tail of dockerd's log) when it cannot.
#
# Environment:
#   DOCKERD_LOG          where dockerd's output goes (default /var/log/redis-on-docker-dockerd.log)
#   DOCKERD_WAIT_SEC     bound on waiting for the engine after each start attempt (default 60)
set -euo pipefail
exec </dev/null

LOG="${DOCKERD_LOG:-/var/log/redis-on-docker-dockerd.log}"
WAIT_SEC="${DOCKERD_WAIT_SEC:-60}"

say() { echo "ensure-docker: $*" >&2; }

engine_answers() {
  command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1
}

if engine_answers; then
  say "engine already answers ($(timeout 10 docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  say "the engine does not answer and starting it needs root (run as root, or start dockerd yourself)"
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  say "dockerd or docker missing: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq docker.io >/dev/null
fi

dockerd_pid() {
  # The pid dockerd itself wrote, if that process still lives.
  local pid
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

wait_for_engine() {
  local pid="$1" deadline=$((SECONDS + WAIT_SEC))
  while [ "$SECONDS" -lt "$deadline" ]; do
    engine_answers && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}

stop_dockerd() {
  local pid="$1"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

# A dockerd that is alive but silent (still starting up) gets the same bound before we give up.
existing="$(dockerd_pid)"
if [ -n "$existing" ]; then
  say "dockerd (pid $existing) runs but does not answer yet; waiting up to ${WAIT_SEC}s"
  if wait_for_engine "$existing"; then say "engine answers"; exit 0; fi
  say "dockerd (pid $existing) did not answer within ${WAIT_SEC}s; see $LOG"
  exit 1
fi

mkdir -p "$(dirname "$LOG")"
# Sandboxes differ: overlayfs may not be mountable (nested overlay) and iptables may be
# missing or forbidden. Try the normal engine first, then fall back step by step. The
# fallbacks keep what the e2e test needs: user-defined bridge networks with static IPs and
# published ports on 127.0.0.1 (docker-proxy serves those without iptables).
attempts=(
  ""
  "--storage-driver=vfs"
  "--storage-driver=vfs --iptables=false --ip6tables=false"
)
for flags in "${attempts[@]}"; do
  say "starting dockerd ${flags:-(default options)}; log: $LOG"
  echo "=== $(date -u +%FT%TZ) dockerd $flags" >>"$LOG"
  # setsid + nohup: dockerd must outlive this script and the CI step's process group.
  # shellcheck disable=SC2086
  setsid nohup dockerd $flags >>"$LOG" 2>&1 </dev/null &
  pid=$!
  if wait_for_engine "$pid"; then
    say "engine answers (dockerd pid $pid ${flags:-default options})"
    exit 0
  fi
  say "dockerd ${flags:-(default options)} did not come up within ${WAIT_SEC}s; last log lines:"
  tail -n 15 "$LOG" | sed 's/^/  dockerd: /' >&2
  stop_dockerd "$pid"
done

say "could not start the Docker engine; full log: $LOG"
exit 1
