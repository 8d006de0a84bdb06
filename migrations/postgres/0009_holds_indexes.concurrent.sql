CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_holds_pending_idx ON authorization_holds (created_at) WHERE state = 'pending';
CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_holds_card_pending_idx ON authorization_holds (card_id) WHERE state = 'pending';
