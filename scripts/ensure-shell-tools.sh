#!/usr/bin/env bash
# Installs what scripts/check-shell.sh needs when it is missing (fresh machine): the Debian
# packages shellcheck, busybox (its sh is the second shell the bootstrap must parse under) and dash.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v dash >/dev/null 2>&1 || missing+=(dash)
[ ${#missing[@]} -eq 0 ] && exit 0
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
