#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages on a fresh machine (as root, or through
# sudo), with no prompt and no stdin; says what to install by hand where it cannot.
# The ensure-*.sh scripts call it only for what is missing.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: apt-install.sh PACKAGE..." >&2; exit 2; }
echo "[setup] installing $* (Debian packages)" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=
elif command -v sudo >/dev/null 2>&1; then SUDO=sudo
else echo "missing: install Debian's $* as root" >&2; exit 1
fi
command -v apt-get >/dev/null 2>&1 || { echo "missing: $*, and there is no apt-get to install them" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
$SUDO timeout 300 apt-get update -qq </dev/null
$SUDO timeout 600 apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
