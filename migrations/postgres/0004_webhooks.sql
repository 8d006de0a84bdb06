-- Outbound webhooks: program endpoints and the record of every delivery and attempt.

CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id           uuid PRIMARY KEY,
  -- null: program-wide (every event); otherwise only that company's events.
  company_id   uuid REFERENCES companies(id),
  url          text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
  -- HMAC-SHA256 key of the X-AFC-Signature header. Stored as given, unlike API keys (which
  -- are hashed): signing needs the key itself. Protect it like a credential (disk and backup
  -- encryption, restricted role); rotate by registering a new endpoint and retiring the old.
  secret       text NOT NULL CHECK (length(secret) BETWEEN 16 AND 256),
  -- Routing-key patterns (AMQP topic style: "decision.#", "card.activated"); empty = all.
  event_types  text[] NOT NULL DEFAULT '{}',
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS webhook_endpoints_active ON webhook_endpoints (company_id) WHERE active;

-- One row per (endpoint, event): the unique key keeps a redelivered event from being sent
-- again once delivered.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints(id),
  -- The broker message id (decisions: "<jit_token>:<revision>").
  event_id          text NOT NULL,
  event_type        text NOT NULL,
  -- pending: not tried yet; failed: last attempt failed, a retry is scheduled;
  -- delivered: a 2xx answer; dead: retries stopped at the horizon, message in the DLQ.
  status            text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
  attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error        text,
  last_status_code  smallint,
  -- Start of the retry horizon (reset when an operator replays a dead delivery).
  window_started_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at   timestamptz,
  delivered_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);

CREATE INDEX IF NOT EXISTS webhook_deliveries_undelivered
  ON webhook_deliveries (endpoint_id, updated_at) WHERE status IN ('failed', 'dead');

-- Every attempt, for support ("what did we send, and what did they answer?").
CREATE TABLE IF NOT EXISTS webhook_delivery_attempts (
  delivery_id   bigint NOT NULL REFERENCES webhook_deliveries(id),
  attempt       integer NOT NULL CHECK (attempt >= 1),
  status_code   smallint,
  error         text,
  duration_ms   integer NOT NULL CHECK (duration_ms >= 0),
  attempted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (delivery_id, attempt)
);
