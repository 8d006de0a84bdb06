# Local/demo/test environment for this machine's services. Sourced by scripts; the secrets
# here are demo values for local use only: production sets its own (no secret has a default).
export NODE_ENV="${NODE_ENV:-development}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:27017/atlanticfrewaycard}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}"
export MARQETA_BASE_URL="${MARQETA_BASE_URL:-http://127.0.0.1:8090/v3}"
export MARQETA_APP_TOKEN="${MARQETA_APP_TOKEN:-demo-app-token}"
export MARQETA_ADMIN_TOKEN="${MARQETA_ADMIN_TOKEN:-demo-admin-token}"
export GATEWAY_BASIC_AUTH_USER="${GATEWAY_BASIC_AUTH_USER:-marqeta}"
export GATEWAY_BASIC_AUTH_PASSWORD="${GATEWAY_BASIC_AUTH_PASSWORD:-demo-password-Change-Me-42}"
