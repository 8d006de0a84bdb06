-- The API's lists: an owner's endpoints and an endpoint's deliveries, newest first (id as tie-breaker).
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_endpoints_company_created_idx
  ON webhook_endpoints (company_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_endpoint_created_idx
  ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
