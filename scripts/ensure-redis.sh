#!/usr/bin/env bash
# Installs Debian's redis-server and redis-tools when they are missing (fresh machine).
# The tests and the local runner start their own redis-server processes on free ports.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
echo "[setup] installing redis-server and redis-tools (Debian packages)" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=
elif command -v sudo >/dev/null 2>&1; then SUDO=sudo
else echo "redis-server/redis-cli are missing; install Debian's redis-server and redis-tools as root" >&2; exit 1
fi
command -v apt-get >/dev/null 2>&1 || { echo "redis-server/redis-cli are missing and there is no apt-get to install them" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
# The package may start a system server on 6379; nothing here needs it.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
if command -v service >/dev/null 2>&1; then $SUDO service redis-server stop >/dev/null 2>&1 || true; fi
