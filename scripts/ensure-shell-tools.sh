#!/usr/bin/env bash
# Installs what the checks and the simulated hosts need when it is missing (fresh machine): the
# Debian packages shellcheck, busybox (its sh is the second shell the bootstrap must parse
# under), dash (for scripts/check-shell.sh), iproute2 and util-linux (ip netns, nsenter).
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v dash >/dev/null 2>&1 || missing+=(dash)
# The simulated hosts of the multi-host tests (network namespaces, veth, a bridge).
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
[ ${#missing[@]} -eq 0 ] && exit 0
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
