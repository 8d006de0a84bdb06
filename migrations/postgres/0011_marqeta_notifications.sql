-- Marqeta transaction notifications as received on our webhook (worker/notifications), kept for
-- reconciliation against the ledger. One row per notification of a transaction state.
CREATE TABLE IF NOT EXISTS marqeta_notifications (
  event_token          text PRIMARY KEY,
  transaction_token    text,
  jit_token            text,
  original_jit_token   text,
  type                 text,
  state                text,
  card_token           varchar(255),
  amount_minor         bigint,
  currency_code        char(3),
  timed_out            boolean NOT NULL DEFAULT false,
  standin_approved_by  text,
  ledger_actions       text[] NOT NULL DEFAULT '{}',
  payload              jsonb NOT NULL,
  received_at          timestamptz NOT NULL,
  stored_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS marqeta_notifications_group_idx
  ON marqeta_notifications (coalesce(original_jit_token, jit_token));
CREATE INDEX IF NOT EXISTS marqeta_notifications_card_idx ON marqeta_notifications (card_token);
