#!/usr/bin/env bash
# Checks shell files: each must parse (`sh -n` under dash AND busybox sh for a #!/bin/sh file,
# as the bootstrap job may run under either; `bash -n` for a bash file) and pass shellcheck
# (every severity; a finding is fixed or disabled on its line with a reason).
#
# Usage: scripts/check-shell.sh [FILE...]
#   Without FILE: every committed *.sh file (the cluster bootstrap and scripts/*.sh), and .ci/run.
# Exit 0: all clean; 1: a file failed (each finding printed, named by file); 2: a tool is missing.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

for tool in dash busybox bash shellcheck; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "check-shell: $tool is missing; run scripts/ensure-shell-tools.sh (Debian packages shellcheck, busybox, dash)" >&2; exit 2; }
done

if [ $# -eq 0 ]; then
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.sh' .ci/run)
  else
    files=(scripts/*.sh topology/src/*.sh .ci/run)
  fi
  set -- "${files[@]}"
fi
[ $# -gt 0 ] || { echo "check-shell: no shell files to check" >&2; exit 1; }

failed=0
# check FILE LABEL COMMAND...: runs one bounded check, printing its findings under the file's name.
check() {
  local file=$1 label=$2 out
  shift 2
  if ! out=$(timeout 60 "$@" 2>&1); then
    printf 'check-shell: %s: %s failed:\n%s\n' "$file" "$label" "${out:-(no output; exit status non-zero or timed out)}" >&2
    failed=1
  fi
}

for file in "$@"; do
  [ -f "$file" ] || { echo "check-shell: $file: no such file" >&2; failed=1; continue; }
  IFS= read -r shebang <"$file" || shebang=''
  case $shebang in
    '#!/bin/sh'|'#!/bin/sh '*|'#!/usr/bin/env sh')
      check "$file" "dash -n" dash -n "$file"
      check "$file" "busybox sh -n" busybox sh -n "$file"
      check "$file" "shellcheck" shellcheck --shell=sh "$file" ;;
    '#!/bin/bash'|'#!/usr/bin/env bash')
      check "$file" "bash -n" bash -n "$file"
      check "$file" "shellcheck" shellcheck --shell=bash "$file" ;;
    *)
      echo "check-shell: $file: first line '$shebang' names no shell this checks (#!/bin/sh or #!/usr/bin/env bash)" >&2
      failed=1 ;;
  esac
done

[ "$failed" -eq 0 ] || exit 1
echo "check-shell: $# file(s) parse and pass shellcheck"
