--[[
  decide: the authorization decision for one Gateway JIT Funding request, atomically.
  Checks idempotency, card and cardholder status, currency, merchant rules, the
  per-transaction / daily / monthly limits and (personal cards) the available balance;
  on approval reserves the amount. Every decision is recorded for replays and appended
  to the shard's outbox in this same call, so nothing decided can be lost.

  All keys share one hash tag (the cardholder's shard): safe on Redis Cluster.

  KEYS[1] user      cache hash  {status}
  KEYS[2] card      cache hash  {status, kind, user_token, currency, card_id, user_id} or {missing=1}
  KEYS[3] limits    cache hash  {per_txn, daily, monthly (minor units, "" = none),
                                 mcc_allow, mcc_block, mid_allow, mid_block (",a,b," lists, "" = none)}
  KEYS[4] balance   cache string  posted balance, minor units (personal cards only)
  KEYS[5] ledger    live hash   {held, dw, ds, mw, ms}: held amount, day/month window id and spend
  KEYS[6] decision  hash        the recorded answer of this JIT token {s, a, k, dw, mw, ci, ui, rev}
  KEYS[7] outbox    stream      decisions waiting for the relay to RabbitMQ

  ARGV[1]  user_token of the request
  ARGV[2]  currency code of the request (ISO 4217)
  ARGV[3]  amount, minor units (integer string, 0 .. 10^15)
  ARGV[4]  merchant category code, "" when absent
  ARGV[5]  merchant id (card acceptor mid), "" when absent
  ARGV[6]  day window id (program time zone), e.g. 20261125
  ARGV[7]  month window id, e.g. 202611
  ARGV[8]  forced status: -1 to decide, else record this status without checks
  ARGV[9]  decision record TTL, seconds
  ARGV[10] ledger idle TTL, seconds
  ARGV[11] request summary JSON, copied into the outbox entry

  Returns {status, approved_amount_minor, replayed (0|1), kind, missing_mask}
    status >= 0   a decision status (shared/decision-status.ts)
    status = -1   CACHE_MISS: missing_mask says what to load (1 user, 2 card, 4 limits, 8 balance, 16 ledger);
                  nothing written
]]
local rcall = redis.call

local user_key, card_key, limits_key = KEYS[1], KEYS[2], KEYS[3]
local balance_key, ledger_key, decision_key, outbox_key = KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local user_token = ARGV[1]
local currency = ARGV[2]
local amount_text = ARGV[3]
local amount = tonumber(amount_text)
local mcc, mid = ARGV[4], ARGV[5]
local day_id, month_id = ARGV[6], ARGV[7]
local forced = tonumber(ARGV[8])
local decision_ttl_s, ledger_ttl_s = tonumber(ARGV[9]), tonumber(ARGV[10])
local request_json = ARGV[11]

-- Statuses (keep in sync with shared/decision-status.ts; numbers are never reused).
local APPROVED, INSUFFICIENT_BALANCE, LIMIT_PER_TRANSACTION, LIMIT_DAILY, LIMIT_MONTHLY = 0, 1, 2, 3, 4
local MERCHANT_RESTRICTED, CARD_INACTIVE, CARDHOLDER_INACTIVE, CARD_NOT_FOUND = 5, 6, 7, 8
local CARD_USER_MISMATCH, CURRENCY_MISMATCH, INVALID_AMOUNT = 9, 10, 11
local CACHE_MISS = -1

-- A replayed token gets the first answer and changes nothing.
local prior = rcall('HMGET', decision_key, 's', 'a', 'k')
if prior[1] then
  return {tonumber(prior[1]), tonumber(prior[2]), 1, prior[3], 0}
end

local time = rcall('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local card = rcall('HMGET', card_key, 'missing', 'status', 'kind', 'user_token', 'currency', 'card_id', 'user_id')
local card_missing, card_status, kind = card[1], card[2], card[3] or 'unknown'
local card_id, card_user_id = card[6] or '', card[7] or ''

-- Appends the decision to the outbox and records it for replays.
local function record(status, approved_amount)
  rcall('HSET', decision_key, 's', status, 'a', approved_amount, 'k', kind,
    'dw', day_id, 'mw', month_id, 'ci', card_id, 'ui', card_user_id, 'rev', 1)
  rcall('EXPIRE', decision_key, decision_ttl_s)
  rcall('XADD', outbox_key, '*', 'r', request_json, 's', status, 'a', approved_amount, 'k', kind,
    'ci', card_id, 'ui', card_user_id, 't', now_ms, 'rev', 1)
  return {status, tonumber(approved_amount), 0, kind, 0}
end

if forced >= 0 then
  return record(forced, 0)
end

-- Cache completeness: everything the rules read must be present, or the caller loads it.
if card_missing then
  return record(CARD_NOT_FOUND, 0)
end
local missing = 0
if not card_status then missing = missing + 2 end
local user_status = rcall('HGET', user_key, 'status')
if not user_status then missing = missing + 1 end
if rcall('EXISTS', limits_key) == 0 then missing = missing + 4 end
local balance = rcall('GET', balance_key)
if kind == 'personal' and not balance then missing = missing + 8 end
if rcall('EXISTS', ledger_key) == 0 then missing = missing + 16 end
if missing > 0 then
  return {CACHE_MISS, 0, 0, kind, missing}
end

-- Card and cardholder.
if card[4] ~= user_token then return record(CARD_USER_MISMATCH, 0) end
if card_status ~= 'active' then return record(CARD_INACTIVE, 0) end
if user_status ~= 'active' then return record(CARDHOLDER_INACTIVE, 0) end
if card[5] ~= currency then return record(CURRENCY_MISMATCH, 0) end
if amount <= 0 then return record(INVALID_AMOUNT, 0) end

-- Merchant rules fail closed: with an allow list, a request without the field is refused.
local limits = rcall('HMGET', limits_key, 'per_txn', 'daily', 'monthly', 'mcc_allow', 'mcc_block', 'mid_allow', 'mid_block')
local function listed(list, value)
  return value ~= '' and string.find(list, ',' .. value .. ',', 1, true) ~= nil
end
local function refused(allow, block, value)
  allow, block = allow or '', block or ''
  if block ~= '' and listed(block, value) then return true end
  if allow ~= '' and not listed(allow, value) then return true end
  return false
end
if refused(limits[4], limits[5], mcc) or refused(limits[6], limits[7], mid) then
  return record(MERCHANT_RESTRICTED, 0)
end

-- Amount limits. A window id that differs from the stored one means a new window: spend 0.
local function limit_of(value)
  if value == false or value == nil or value == '' then return nil end
  return tonumber(value)
end
local per_txn, daily, monthly = limit_of(limits[1]), limit_of(limits[2]), limit_of(limits[3])
if per_txn and amount > per_txn then return record(LIMIT_PER_TRANSACTION, 0) end

local ledger = rcall('HMGET', ledger_key, 'held', 'dw', 'ds', 'mw', 'ms')
local held = tonumber(ledger[1] or '0')
local day_spent = (ledger[2] == day_id) and tonumber(ledger[3] or '0') or 0
local month_spent = (ledger[4] == month_id) and tonumber(ledger[5] or '0') or 0
if daily and day_spent + amount > daily then return record(LIMIT_DAILY, 0) end
if monthly and month_spent + amount > monthly then return record(LIMIT_MONTHLY, 0) end

-- Personal cards: available = posted balance - active holds.
if kind == 'personal' and tonumber(balance) - held < amount then
  return record(INSUFFICIENT_BALANCE, 0)
end

-- Approve: reserve the amount and count it in the current windows.
if ledger[2] ~= day_id then rcall('HSET', ledger_key, 'dw', day_id, 'ds', 0) end
if ledger[4] ~= month_id then rcall('HSET', ledger_key, 'mw', month_id, 'ms', 0) end
rcall('HINCRBY', ledger_key, 'held', amount_text)
rcall('HINCRBY', ledger_key, 'ds', amount_text)
rcall('HINCRBY', ledger_key, 'ms', amount_text)
rcall('EXPIRE', ledger_key, ledger_ttl_s)
return record(APPROVED, amount_text)
