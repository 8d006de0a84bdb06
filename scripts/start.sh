#!/usr/bin/env bash
# Starts the whole system on this machine: services (started when not running), FerretDB,
# migrations, the demo program, a fake Marqeta API, the gateway, the worker and the
# management API. Prints where each listens and a ready-to-paste authorization request.
# Ctrl-C stops the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 and the tools come from node_modules, also when this script is run without npm.
export PATH="$PWD/node_modules/.bin:$PATH"
source scripts/dev-env.sh
[ -x node_modules/.bin/node ] || npm ci --no-audit --no-fund
bash scripts/services.sh
node migrations/cli.ts
node scripts/seed-demo.ts

mkdir -p .run
pids=()
stop() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

start() {
  local name="$1"; shift
  "$@" >".run/$name.log" 2>&1 &
  pids+=("$!")
  echo "started $name (pid $!, log .run/$name.log)"
}

# The console (served by the API) reads the gateway's and the worker's internal listeners.
export CONSOLE_GATEWAY_INTERNAL_URL="${CONSOLE_GATEWAY_INTERNAL_URL:-http://127.0.0.1:${GATEWAY_INTERNAL_PORT:-9080}}"
export CONSOLE_WORKER_HEALTH_URL="${CONSOLE_WORKER_HEALTH_URL:-http://127.0.0.1:${WORKER_HEALTH_PORT:-8081}}"
start fake-marqeta node fake-marqeta/main.ts
start gateway node gateway/main.ts
start worker node worker/main.ts
start api node api/main.ts

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:${GATEWAY_INTERNAL_PORT:-9080}/api/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<EOT

Atlanticfrewaycard core is running. Public listeners (what callers reach):
  gateway (Marqeta)      http://127.0.0.1:${GATEWAY_PORT:-8080}/api/transactions/authorize, /api/webhooks/marqeta
  management API         http://127.0.0.1:${API_PORT:-8082}   (OpenAPI at /docs)
  operator console       http://127.0.0.1:${API_PORT:-8082}/console/
                         sign in with the demo key ${DEMO_ADMIN_API_KEY:-afc_demoadmin_DemoOnlyProgramAdminKeyNotForProduction01}
Internal listeners (health, readiness, /metrics; never exposed beyond the cluster):
  gateway internal       http://127.0.0.1:${GATEWAY_INTERNAL_PORT:-9080}/api/health   (also /api/health/ready, /metrics)
  API internal           http://127.0.0.1:${API_INTERNAL_PORT:-9082}/api/health   (also /api/health/ready, /metrics)
  worker internal        http://127.0.0.1:${WORKER_HEALTH_PORT:-8081}/health   (also /ready, /metrics)
Demo only:
  fake Marqeta API       ${MARQETA_BASE_URL}

Try an authorization of 42.75 USD on the demo business card (sending the same file again
returns the same answer: decisions are idempotent on the JIT token):

node_modules/.bin/node scripts/example-request.ts demo_card_business_1 demo_user_business_1 42.75 > .run/auth.json
curl -s -u '${GATEWAY_BASIC_AUTH_USER}:${GATEWAY_BASIC_AUTH_PASSWORD}' -H 'content-type: application/json' \\
  http://127.0.0.1:${GATEWAY_PORT:-8080}/api/transactions/authorize -d @.run/auth.json

Press Ctrl-C to stop.
EOT
wait
