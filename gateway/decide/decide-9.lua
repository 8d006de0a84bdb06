--[[
  decide: one Gateway JIT Funding message, atomically: idempotency, the checks, the money
  movement in Redis, the decision record and the outbox entry, all in this one call.

  All keys share one hash tag (the cardholder's shard): safe on Redis Cluster.

  KEYS[1] user      cache hash  {status}
  KEYS[2] card      cache hash  {status, kind, user_token, currency, card_id, user_id} or {missing=1}
  KEYS[3] limits    cache hash  per_txn; <p>_amt and <p>_cnt for p in d w m y a (minor units / counts,
                                "" = none); vel_max, vel_win_s; g:<group>:d / g:<group>:m (category
                                amount limits);
                                mcc_allow mcc_block mid_allow mid_block cc_allow cc_block (",a,b,", "" = none)
  KEYS[4] balance   cache string  posted balance as persisted, minor units (personal cards)
  KEYS[5] ledger    live hash   held (active holds), pend (postings not yet persisted, signed),
                                <p>w/<p>s/<p>n window id, spend and count per period p,
                                g:<group>:<p>w / g:<group>:<p>s for p in d m
  KEYS[6] decision  hash        answer of this JIT token {s, a, av, k, ci, ui, rev, mode, cid,
                                dw ww mw yw aw g (windows and MCC group its spend was counted in)}
  KEYS[7] outbox    stream      decisions waiting for the relay to RabbitMQ
  KEYS[8] auth      hash        authorization group of the original JIT token {held, state, card,
                                dw ww mw yw aw (windows it was counted in), g, n}
  KEYS[9] velocity  zset        approval times (ms) of the card, for the sliding velocity window

  ARGV[1]  user_token of the request          ARGV[2]  currency code (ISO 4217)
  ARGV[3]  amount, minor units (0 .. 10^15)   ARGV[4]  MCC ("" when absent)
  ARGV[5]  merchant id ("" when absent)       ARGV[6]  merchant country ("" when absent)
  ARGV[7]  MCC group ("" when none)
  ARGV[8..12] window ids: day, week, month, year, all-time (program time zone)
  ARGV[13] mode: auth | incremental | force_auth | reversal | clearing | capture | force_capture |
                 refund_post | refund_pending | refund_cancel | balance | verify |
                 release (the whole remaining hold: Marqeta timed out or declined it, or it expired)
  ARGV[14] forced status: -1 to decide, else record this status without checks
  ARGV[15] 1 when a partial approval may be answered (program setting and pos.partial_approval_capable)
  ARGV[16] decision record TTL, s            ARGV[17] ledger idle TTL, s
  ARGV[18] now, unix ms (velocity window)     ARGV[19] request summary JSON (copied to the outbox)
  ARGV[20] call id: unique per gateway call, recorded so a void undoes only its own call's decision

  Returns {status, amount_minor, replayed (0|1), kind, missing_mask, available_minor}
    status >= 0  a decision status (shared/decision-status.ts); amount: approved, released or posted
    status = -1  CACHE_MISS, nothing written; missing_mask: 1 user, 2 card, 4 limits, 8 balance, 16 ledger
    available_minor: for `balance` (personal: posted + pending - held; business: least room left
    under the amount limits, -1 when none); 0 otherwise
]]
local rcall = redis.call

local user_key, card_key, limits_key, balance_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ledger_key, decision_key, outbox_key, auth_key, velocity_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]

local user_token, currency = ARGV[1], ARGV[2]
local amount = tonumber(ARGV[3])
local mcc, mid, country, group = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local PERIODS = {'d', 'w', 'm', 'y', 'a'}
local window = {d = ARGV[8], w = ARGV[9], m = ARGV[10], y = ARGV[11], a = ARGV[12]}
local mode = ARGV[13]
local forced = tonumber(ARGV[14])
local partial_capable = ARGV[15] == '1'
local decision_ttl_s, ledger_ttl_s = tonumber(ARGV[16]), tonumber(ARGV[17])
local now_ms = tonumber(ARGV[18])
local request_json = ARGV[19]
local call_id = ARGV[20]

-- Statuses (keep in sync with shared/decision-status.ts; numbers are never reused).
local APPROVED, INSUFFICIENT_BALANCE, LIMIT_PER_TRANSACTION = 0, 1, 2
local MERCHANT_RESTRICTED, CARD_INACTIVE, CARDHOLDER_INACTIVE, CARD_NOT_FOUND = 5, 6, 7, 8
local CARD_USER_MISMATCH, CURRENCY_MISMATCH, INVALID_AMOUNT = 9, 10, 11
local LIMIT_VELOCITY, LIMIT_CATEGORY, COUNTRY_RESTRICTED, NO_BALANCE, AUTHORIZATION_CLOSED = 15, 19, 20, 21, 22
local LIMIT_STATUS = {d = 3, w = 16, m = 4, y = 17, a = 18}
local CACHE_MISS = -1

-- A replayed token gets the first answer and changes nothing.
local prior = rcall('HMGET', decision_key, 's', 'a', 'k', 'av')
if prior[1] then
  return {tonumber(prior[1]), tonumber(prior[2]), 1, prior[3], 0, tonumber(prior[4] or '0')}
end

local card = rcall('HMGET', card_key, 'missing', 'status', 'kind', 'user_token', 'currency', 'card_id', 'user_id')
local card_missing, card_status, kind = card[1], card[2], card[3] or 'unknown'
local card_id, card_user_id = card[6] or '', card[7] or ''
local available_reply = 0
-- The authorization group this message belongs to (the original JIT token).
local group_token = string.match(auth_key, ':auth:(.*)$') or ''

-- Every change made to the live state, as applied, travels with the outbox entry (`fx`), so
-- the worker's ledger mirrors Redis exactly (shared/ledger-effects.ts parses it):
--   held:<d>  pend:<d>  spend:<p>:<window>:<d>:<n>  gspend:<group>:<p>:<window>:<d>  hold:<d>  hold_state:<s>
local effects = {}
local function effect(text)
  effects[#effects + 1] = text
end

-- Appends the decision to the outbox and records it for replays.
local function record(status, moved, extra)
  rcall('HSET', decision_key, 's', status, 'a', moved, 'av', available_reply, 'k', kind,
    'ci', card_id, 'ui', card_user_id, 'rev', 1, 'mode', mode, 'cid', call_id,
    'dw', window.d, 'ww', window.w, 'mw', window.m, 'yw', window.y, 'aw', window.a, 'g', group, 'grp', group_token)
  rcall('EXPIRE', decision_key, decision_ttl_s)
  local entry = {'r', request_json, 's', status, 'a', moved, 'k', kind, 'ci', card_id, 'ui', card_user_id,
    't', now_ms, 'rev', 1, 'mode', mode, 'av', available_reply, 'grp', group_token, 'fx', table.concat(effects, ';')}
  for i = 1, #(extra or {}) do entry[#entry + 1] = extra[i] end
  rcall('XADD', outbox_key, '*', unpack(entry))
  return {status, moved, 0, kind, 0, available_reply}
end

if forced >= 0 then return record(forced, 0) end
if card_missing then return record(CARD_NOT_FOUND, 0) end

-- Cache completeness: everything the rules read must be present, or the caller loads it.
local missing = 0
if not card_status then missing = missing + 2 end
local user_status = rcall('HGET', user_key, 'status')
if not user_status then missing = missing + 1 end
if rcall('EXISTS', limits_key) == 0 then missing = missing + 4 end
local posted = rcall('GET', balance_key)
if kind == 'personal' and not posted then missing = missing + 8 end
if rcall('EXISTS', ledger_key) == 0 then missing = missing + 16 end
if missing > 0 then return {CACHE_MISS, 0, 0, kind, missing, 0} end

if card[4] ~= user_token then return record(CARD_USER_MISMATCH, 0) end
if card[5] ~= currency then return record(CURRENCY_MISMATCH, 0) end

local function num(value)
  if value == false or value == nil or value == '' then return nil end
  return tonumber(value)
end

-- Live state of the card: spend per period in the current windows.
local ledger_fields = {'held', 'pend'}
for _, p in ipairs(PERIODS) do
  ledger_fields[#ledger_fields + 1] = p .. 'w'
  ledger_fields[#ledger_fields + 1] = p .. 's'
  ledger_fields[#ledger_fields + 1] = p .. 'n'
end
local lv = rcall('HMGET', ledger_key, unpack(ledger_fields))
local held, pend = num(lv[1]) or 0, num(lv[2]) or 0
local spent, count = {}, {}
for i, p in ipairs(PERIODS) do
  local same = lv[3 * i] == window[p]
  spent[p] = same and (num(lv[3 * i + 1]) or 0) or 0
  count[p] = same and (num(lv[3 * i + 2]) or 0) or 0
end
local function available()
  return tonumber(posted or '0') + pend - held
end

-- Adds `delta` spend (and `n` to the count) in the current windows; a stale window restarts at 0.
local function count_spend(delta, n)
  for _, p in ipairs(PERIODS) do
    local next_spent = math.max(0, spent[p] + delta)
    rcall('HSET', ledger_key, p .. 'w', window[p], p .. 's', string.format('%d', next_spent), p .. 'n', count[p] + n)
    effect(string.format('spend:%s:%s:%d:%d', p, window[p], next_spent - spent[p], n))
    spent[p], count[p] = next_spent, count[p] + n
  end
  if group ~= '' then
    for _, p in ipairs({'d', 'm'}) do
      local gw, gs = 'g:' .. group .. ':' .. p .. 'w', 'g:' .. group .. ':' .. p .. 's'
      local g = rcall('HMGET', ledger_key, gw, gs)
      local base = (g[1] == window[p]) and (num(g[2]) or 0) or 0
      local next_spent = math.max(0, base + delta)
      rcall('HSET', ledger_key, gw, window[p], gs, string.format('%d', next_spent))
      effect(string.format('gspend:%s:%s:%s:%d', group, p, window[p], next_spent - base))
    end
  end
end

-- Removes `delta` spend from the windows an authorization was counted in, if still current.
local function uncount_spend(auth, delta)
  for i, p in ipairs(PERIODS) do
    if auth[i] == window[p] and lv[3 * i] == window[p] then
      local next_spent = math.max(0, spent[p] - delta)
      rcall('HSET', ledger_key, p .. 's', string.format('%d', next_spent))
      effect(string.format('spend:%s:%s:%d:0', p, window[p], next_spent - spent[p]))
      spent[p] = next_spent
    end
  end
  local auth_group = auth[6]
  if auth_group and auth_group ~= '' then
    for j, p in ipairs({'d', 'm'}) do
      local gw, gs = 'g:' .. auth_group .. ':' .. p .. 'w', 'g:' .. auth_group .. ':' .. p .. 's'
      local g = rcall('HMGET', ledger_key, gw, gs)
      if g[1] == auth[j == 1 and 1 or 3] then
        local base = num(g[2]) or 0
        local next_spent = math.max(0, base - delta)
        rcall('HSET', ledger_key, gs, string.format('%d', next_spent))
        effect(string.format('gspend:%s:%s:%s:%d', auth_group, p, g[1], next_spent - base))
      end
    end
  end
end

local function add(field, delta)
  rcall('HINCRBY', ledger_key, field, string.format('%d', delta))
  effect(string.format('%s:%d', field, delta))
end

local function hold_delta(delta)
  rcall('HINCRBY', auth_key, 'held', string.format('%d', delta))
  effect(string.format('hold:%d', delta))
end

local function hold_state(state)
  rcall('HSET', auth_key, 'state', state)
  effect('hold_state:' .. state)
end

local function touch()
  rcall('EXPIRE', ledger_key, ledger_ttl_s)
end

-- Holds belong to the authorization group of the original JIT token.
local function hold(value)
  add('held', value)
  if rcall('EXISTS', auth_key) == 0 then
    rcall('HSET', auth_key, 'held', 0, 'state', 'pending', 'dw', window.d, 'ww', window.w, 'mw', window.m,
      'yw', window.y, 'aw', window.a, 'g', group)
  elseif rcall('HGET', auth_key, 'state') ~= 'pending' then
    -- Only a stand-in/advice can hold on a settled group (incrementals are declined): it
    -- reopens the group, so the hold counts as pending here and in the ledger alike.
    hold_state('pending')
  end
  hold_delta(value)
  rcall('EXPIRE', auth_key, decision_ttl_s)
end

local limits = rcall('HMGET', limits_key, 'per_txn', 'd_amt', 'w_amt', 'm_amt', 'y_amt', 'a_amt',
  'vel_max', 'vel_win_s', 'mcc_allow', 'mcc_block', 'mid_allow', 'mid_block', 'cc_allow', 'cc_block')

-- Least room left under the amount limits (nil when none applies) and the status naming it.
local function amount_room()
  local room, status = nil, nil
  local per_txn = num(limits[1])
  if per_txn then room, status = per_txn, LIMIT_PER_TRANSACTION end
  for i, p in ipairs(PERIODS) do
    local limit = num(limits[1 + i])
    if limit and (room == nil or limit - spent[p] < room) then room, status = limit - spent[p], LIMIT_STATUS[p] end
  end
  if group ~= '' then
    for _, p in ipairs({'d', 'm'}) do
      local limit = num(rcall('HGET', limits_key, 'g:' .. group .. ':' .. p))
      if limit then
        local g = rcall('HMGET', ledger_key, 'g:' .. group .. ':' .. p .. 'w', 'g:' .. group .. ':' .. p .. 's')
        local used = (g[1] == window[p]) and (num(g[2]) or 0) or 0
        if room == nil or limit - used < room then room, status = limit - used, LIMIT_CATEGORY end
      end
    end
  end
  if kind == 'personal' and (room == nil or available() < room) then room, status = available(), INSUFFICIENT_BALANCE end
  return room, status
end

local function listed(list, value)
  return value ~= '' and string.find(list, ',' .. value .. ',', 1, true) ~= nil
end
local function refused(allow, block, value)
  allow, block = allow or '', block or ''
  if block ~= '' and listed(block, value) then return true end
  if allow ~= '' and not listed(allow, value) then return true end
  return false
end

-- Status checks every mode that can decline shares; nil when the card may transact.
local function status_check()
  if card_status ~= 'active' then return CARD_INACTIVE end
  if user_status ~= 'active' then return CARDHOLDER_INACTIVE end
  return nil
end

-- The full rule set of a purchase; returns (status, approved amount).
local function purchase_check()
  local refusal = status_check()
  if refusal then return refusal, 0 end
  if amount <= 0 then return INVALID_AMOUNT, 0 end
  -- Merchant rules fail closed: with an allow list, a request without the field is refused.
  if refused(limits[9], limits[10], mcc) or refused(limits[11], limits[12], mid) then return MERCHANT_RESTRICTED, 0 end
  if refused(limits[13], limits[14], country) then return COUNTRY_RESTRICTED, 0 end
  local vel_max, vel_win_s = num(limits[7]), num(limits[8])
  if vel_max and vel_win_s then
    rcall('ZREMRANGEBYSCORE', velocity_key, '-inf', now_ms - vel_win_s * 1000)
    if rcall('ZCARD', velocity_key) >= vel_max then return LIMIT_VELOCITY, 0 end
  end
  local room, status = amount_room()
  if room == nil or amount <= room then return APPROVED, amount end
  if partial_capable and room > 0 then return APPROVED, room end
  return status, 0
end

local function note_velocity()
  local vel_win_s = num(limits[8])
  if vel_win_s then
    rcall('ZADD', velocity_key, now_ms, decision_key)
    rcall('PEXPIRE', velocity_key, vel_win_s * 1000)
  end
end

if mode == 'auth' or mode == 'incremental' or mode == 'capture' then
  -- An incremental cannot add to an authorization that was already cleared or reversed: the
  -- purchase it belonged to is over. Declined, so nothing reopens a settled hold.
  if mode == 'incremental' then
    local state = rcall('HGET', auth_key, 'state')
    if state and state ~= 'pending' then return record(AUTHORIZATION_CLOSED, 0) end
  end
  local status, approved = purchase_check()
  if status ~= APPROVED then return record(status, 0) end
  count_spend(approved, 1)
  note_velocity()
  if mode == 'capture' then add('pend', -approved) else hold(approved) end
  touch()
  return record(APPROVED, approved)
end

if mode == 'force_auth' or mode == 'force_capture' then
  -- Advice and stand-in messages report what the network already did: booked, never declined.
  count_spend(amount, 1)
  if mode == 'force_capture' then add('pend', -amount) else hold(amount) end
  touch()
  return record(APPROVED, amount)
end

if mode == 'reversal' or mode == 'clearing' or mode == 'release' then
  local auth = rcall('HMGET', auth_key, 'dw', 'ww', 'mw', 'yw', 'aw', 'g', 'held', 'state')
  local auth_held = num(auth[7]) or 0
  if mode == 'reversal' or mode == 'release' then
    -- Releases at most what is still held: a second or oversized reversal releases nothing more.
    local released = (mode == 'release') and auth_held or math.min(amount, auth_held)
    if released > 0 then
      add('held', -released)
      uncount_spend(auth, released)
      hold_delta(-released)
      if auth_held - released == 0 then hold_state(mode == 'release' and 'released' or 'reversed') end
    end
    touch()
    return record(APPROVED, released, {'released', released})
  end
  -- Clearing posts the cleared amount and releases the whole remaining hold; spend moves from
  -- what was held to what was cleared. Without a prior authorization it is a force post.
  if auth[8] then
    add('held', -auth_held)
    if amount >= auth_held then count_spend(amount - auth_held, 0) else uncount_spend(auth, auth_held - amount) end
    if auth_held ~= 0 then hold_delta(-auth_held) end
    hold_state('cleared')
  else
    count_spend(amount, 1)
  end
  add('pend', -amount)
  touch()
  return record(APPROVED, amount, {'released', auth_held})
end

if mode == 'refund_post' then
  -- A credit: the posted balance grows; spend limits keep counting gross spend.
  add('pend', amount)
  touch()
  return record(APPROVED, amount)
end

if mode == 'refund_pending' or mode == 'refund_cancel' then
  -- A pending credit changes nothing until its clearing posts it.
  return record(APPROVED, amount)
end

if mode == 'balance' then
  local refusal = status_check()
  if refusal then return record(refusal, 0) end
  if kind == 'personal' then
    available_reply = math.max(0, available())
  else
    local room = amount_room()
    if room == nil then return record(NO_BALANCE, 0) end
    available_reply = math.max(0, room)
  end
  return record(APPROVED, 0)
end

if mode == 'verify' then
  local refusal = status_check()
  if refusal then return record(refusal, 0) end
  return record(APPROVED, 0)
end

return redis.error_reply('decide: unknown mode ' .. tostring(mode))
