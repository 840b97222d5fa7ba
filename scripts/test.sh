#!/usr/bin/env bash
# The README's test command (`npm test`): installs what a fresh machine lacks, starts the
# Docker engine for the end-to-end test, then typechecks, lints (ESLint), checks import circles (madge) and shell files, and runs the whole mocha suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-redis.sh
bash scripts/ensure-node-modules.sh
bash scripts/ensure-docker.sh
bash scripts/ensure-shell-tools.sh
bash scripts/build-redis-image.sh

npm run --silent build
npm run --silent typecheck
npm run --silent lint
npm run --silent check:circles   # no import circles in the packages (madge; options in package.json)
# The shell files (the cluster bootstrap, scripts/*.sh): sh -n under dash and busybox, shellcheck.
bash scripts/check-shell.sh
# Default: the whole suite. Pass paths to run some of it, e.g. npm test -- test/topology/plan.test.ts
if [ $# -eq 0 ]; then set -- "test/**/*.test.ts"; fi
npx mocha "$@"
