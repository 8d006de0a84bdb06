-- Sort keys of personal transactions (MongoDB `personal_transactions`), for listing them:
-- FerretDB answers only `_id` equality from an index and scans the collection for any other
-- filter or sort, so the API pages through this table (index range scans) and then reads each
-- document by `_id`. Written by the worker before the document (shared/personal-transaction-keys.ts);
-- rows of earlier documents come from migrations/mongo/0007_personal_transaction_keys.ts.
CREATE TABLE IF NOT EXISTS personal_transaction_keys (
  -- The document's `_id` as text: the JIT token (24-hex ObjectId for documents of old builds).
  transaction_id text COLLATE "C" PRIMARY KEY,
  card_id        text COLLATE "C" NOT NULL,
  user_id        text COLLATE "C" NOT NULL,
  created_at     timestamptz NOT NULL
);
-- A new, empty table: plain CREATE INDEX inside the migration's transaction.
CREATE INDEX IF NOT EXISTS personal_transaction_keys_card_idx
  ON personal_transaction_keys (card_id, created_at DESC, transaction_id DESC);
CREATE INDEX IF NOT EXISTS personal_transaction_keys_user_idx
  ON personal_transaction_keys (user_id, created_at DESC, transaction_id DESC);
CREATE INDEX IF NOT EXISTS personal_transaction_keys_created_idx
  ON personal_transaction_keys (created_at DESC, transaction_id DESC);
