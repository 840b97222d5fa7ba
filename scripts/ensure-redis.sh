#!/usr/bin/env bash
# Installs Debian's redis-server and redis-tools when they are missing (fresh machine).
# The tests and the local runner start their own redis-server processes on free ports.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" redis-server redis-tools
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
# The package may start a system server on 6379; nothing here needs it.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
if command -v service >/dev/null 2>&1; then $SUDO service redis-server stop >/dev/null 2>&1 || true; fi
