#!/usr/bin/env bash
# Every test: typecheck, lint, unit, integration (real services), faults (stop/kill services).
# Starts any service that is down and applies migrations first.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 and the tools come from node_modules, also when this script is run without npm.
export PATH="$PWD/node_modules/.bin:$PATH"
source scripts/dev-env.sh
[ -x node_modules/.bin/node ] || npm ci --no-audit --no-fund
export LOG_LEVEL="${TEST_LOG_LEVEL:-silent}"
bash scripts/services.sh
node migrations/cli.ts
tsc --noEmit -p .
biome check .
vitest run --project unit --project integration
vitest run --project faults
