-- The worker applies each decision's ledger effects (shared/ledger-effects.ts) once per JIT token
-- and revision, in whatever order the messages arrive.

-- Which revisions' effects are applied, as bits (1: revision 1, 2: revision 2). A void persisted
-- before its revision 1 applies its own effects; the late revision 1 then still applies its own.
-- Rows written before this column existed had every revision they carry applied.
ALTER TABLE transactions ADD COLUMN IF NOT EXISTS applied_revisions smallint NOT NULL DEFAULT 1;
UPDATE transactions SET applied_revisions = 3 WHERE revision = 2 AND applied_revisions = 1;

-- Counters are sums of deltas that commute: a release persisted before the hold it releases takes
-- a counter below zero for a moment (as authorization_holds.held_minor already may).
ALTER TABLE spending_controls DROP CONSTRAINT IF EXISTS spending_controls_spent_minor_check;
ALTER TABLE spending_controls DROP CONSTRAINT IF EXISTS spending_controls_txn_count_check;
ALTER TABLE category_spend DROP CONSTRAINT IF EXISTS category_spend_spent_minor_check;
