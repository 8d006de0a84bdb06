-- Cursor pagination of the management API lists (newest first, id as tie-breaker).
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_company_idx ON api_keys (company_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cards_user_created_idx ON cards (user_id, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cards_created_idx ON cards (created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_company_created_idx ON users (company_id, created_at DESC, id DESC);
