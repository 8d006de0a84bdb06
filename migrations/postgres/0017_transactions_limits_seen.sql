-- The limits and spend a purchase's amount rules saw (shared/limits-seen.ts), for its decision
-- trace in the management API and the console. Null for other messages and older rows.
ALTER TABLE transactions ADD COLUMN IF NOT EXISTS limits_seen text;
