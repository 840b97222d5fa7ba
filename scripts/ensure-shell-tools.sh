#!/usr/bin/env bash
# Installs what scripts/check-shell.sh needs when it is missing (fresh machine): the Debian
# packages shellcheck, busybox (its sh is the second shell the bootstrap must parse under) and dash.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v dash >/dev/null 2>&1 || missing+=(dash)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[setup] installing ${missing[*]} (Debian packages)" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=
elif command -v sudo >/dev/null 2>&1; then SUDO=sudo
else echo "${missing[*]} missing; install Debian's ${missing[*]} as root" >&2; exit 1
fi
command -v apt-get >/dev/null 2>&1 || { echo "${missing[*]} missing and there is no apt-get to install them" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
