-- Webhook endpoints managed through the API (api/routes/webhook-endpoints.ts).

-- A secret rotation keeps the previous secret until previous_secret_expires_at: deliveries in
-- that window carry one v1 signature per secret. Deleted endpoints are kept (their deliveries
-- reference them) but hidden, inactive and without a usable secret.
ALTER TABLE webhook_endpoints
  ADD COLUMN IF NOT EXISTS description text CHECK (length(description) <= 500),
  ADD COLUMN IF NOT EXISTS previous_secret text CHECK (length(previous_secret) BETWEEN 16 AND 256),
  ADD COLUMN IF NOT EXISTS previous_secret_expires_at timestamptz,
  ADD COLUMN IF NOT EXISTS deleted_at timestamptz;

-- The body receivers got (signed as is), so an operator's retry sends the same event again;
-- and the last attempt's duration, for the delivery log.
ALTER TABLE webhook_deliveries
  ADD COLUMN IF NOT EXISTS payload text,
  ADD COLUMN IF NOT EXISTS last_duration_ms integer CHECK (last_duration_ms >= 0);
