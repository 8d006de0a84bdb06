-- A group's state changes in decided order, whatever order the worker persists them in: a
-- stand-in (advice) on a cleared authorization reopens its group (hold_state `pending`), and a
-- late message of the older state must not settle it again. The decision time of the state in
-- force; 0 for rows whose state no message has changed yet (or written before this column).
ALTER TABLE authorization_holds ADD COLUMN IF NOT EXISTS state_decided_at_ms bigint NOT NULL DEFAULT 0;
