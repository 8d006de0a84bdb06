-- Transaction lifecycle (incremental, reversal, clearing, refunds) and the wider spending
-- controls: weekly/yearly/all-time windows, per-category limits, partial approvals.

-- Spend counters for every window the gateway enforces.
ALTER TABLE spending_controls DROP CONSTRAINT IF EXISTS spending_controls_period_check;
ALTER TABLE spending_controls ADD CONSTRAINT spending_controls_period_check
  CHECK (period IN ('day', 'week', 'month', 'year', 'all'));

-- Per-category (MCC group, shared/mcc-groups.ts) amount limits, e.g.
-- {"dining": {"day": 5000, "month": 20000}} in minor units.
ALTER TABLE cards ADD COLUMN IF NOT EXISTS category_limits jsonb NOT NULL DEFAULT '{}';

-- Each row is one JIT message. Lifecycle messages point at the authorization they settle.
ALTER TABLE transactions
  ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'auth',
  ADD COLUMN IF NOT EXISTS original_jit_token text,
  ADD COLUMN IF NOT EXISTS mcc_group text NOT NULL DEFAULT '',
  ADD COLUMN IF NOT EXISTS released_amount_minor bigint NOT NULL DEFAULT 0 CHECK (released_amount_minor >= 0),
  -- What is still held for an authorization (pending -> cleared | reversed | expired).
  ADD COLUMN IF NOT EXISTS held_amount_minor bigint NOT NULL DEFAULT 0 CHECK (held_amount_minor >= 0),
  ADD COLUMN IF NOT EXISTS posted_amount_minor bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS week_window date,
  ADD COLUMN IF NOT EXISTS year_window date;

-- Lifecycle statuses: 'posted' for money movements booked without a hold (captures, refunds,
-- reversals and clearings themselves), 'recorded' for messages that move nothing.
ALTER TABLE transactions DROP CONSTRAINT IF EXISTS transactions_status_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_status_check
  CHECK (status IN ('pending', 'declined', 'completed', 'reversed', 'expired', 'posted', 'recorded'));
