-- Core business schema (design card), amounts in integer minor units with their currency.

CREATE TABLE IF NOT EXISTS companies (
  id          uuid PRIMARY KEY,
  name        text NOT NULL,
  time_zone   text NOT NULL DEFAULT 'UTC',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
  id          uuid PRIMARY KEY,
  company_id  uuid NOT NULL REFERENCES companies(id),
  -- Marqeta's user token: how JIT requests name the cardholder.
  user_token  text UNIQUE NOT NULL,
  email       varchar(255) UNIQUE NOT NULL,
  role        varchar(50) NOT NULL,
  status      varchar(50) NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cards (
  id                          uuid PRIMARY KEY,
  user_id                     uuid NOT NULL REFERENCES users(id),
  card_token                  varchar(255) UNIQUE NOT NULL,
  status                      varchar(50) NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'closed')),
  currency_code               char(3) NOT NULL,
  per_transaction_limit_minor bigint CHECK (per_transaction_limit_minor >= 0),
  daily_limit_minor           bigint CHECK (daily_limit_minor >= 0),
  monthly_limit_minor         bigint CHECK (monthly_limit_minor >= 0),
  version                     integer NOT NULL DEFAULT 1,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- Merchant rules of a card. An empty allow list means "any"; block lists always apply.
CREATE TABLE IF NOT EXISTS card_controls (
  card_id         uuid PRIMARY KEY REFERENCES cards(id),
  mcc_allow       text[] NOT NULL DEFAULT '{}',
  mcc_block       text[] NOT NULL DEFAULT '{}',
  merchant_allow  text[] NOT NULL DEFAULT '{}',
  merchant_block  text[] NOT NULL DEFAULT '{}',
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per gateway decision, keyed by Marqeta's JIT token (idempotency).
-- card_id/user_id are null only for declines of cards we do not know.
CREATE TABLE IF NOT EXISTS transactions (
  id                      uuid PRIMARY KEY,
  jit_token               text UNIQUE NOT NULL,
  transaction_token       text NOT NULL,
  method                  text NOT NULL,
  card_id                 uuid REFERENCES cards(id),
  user_id                 uuid REFERENCES users(id),
  card_token              varchar(255) NOT NULL,
  amount_minor            bigint NOT NULL CHECK (amount_minor >= 0),
  approved_amount_minor   bigint NOT NULL CHECK (approved_amount_minor >= 0),
  currency_code           char(3) NOT NULL,
  merchant                varchar(255),
  mcc                     varchar(4),
  merchant_id             varchar(64),
  merchant_country        varchar(3),
  -- pending: approved and held; declined; completed: cleared; reversed; expired.
  status                  varchar(50) NOT NULL
                          CHECK (status IN ('pending', 'declined', 'completed', 'reversed', 'expired')),
  status_code             smallint NOT NULL,
  decline_reason          text,
  memo                    text NOT NULL,
  revision                smallint NOT NULL DEFAULT 1,
  day_window              date NOT NULL,
  month_window            date NOT NULL,
  decided_at              timestamptz NOT NULL,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CHECK (card_id IS NOT NULL OR status = 'declined')
);

-- Spend per card and window, updated in the same SQL transaction as the transactions row.
-- The gateway rebuilds its Redis counters from here when Redis has lost them.
CREATE TABLE IF NOT EXISTS spending_controls (
  card_id       uuid NOT NULL REFERENCES cards(id),
  period        text NOT NULL CHECK (period IN ('day', 'month')),
  window_start  date NOT NULL,
  spent_minor   bigint NOT NULL DEFAULT 0 CHECK (spent_minor >= 0),
  txn_count     integer NOT NULL DEFAULT 0 CHECK (txn_count >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (card_id, period, window_start)
);
