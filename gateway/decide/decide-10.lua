--[[
  decide: one Gateway JIT Funding message, atomically: idempotency, the checks, the money
  movement in Redis, the decision record and the outbox entry, all in this one call.

  All keys share one hash tag (the cardholder's shard): safe on Redis Cluster.

  Eviction (docs/operations.md, "Redis memory"): only the cached parts (KEYS[1..4]) carry a TTL,
  so a `volatile-*` maxmemory policy can evict them and nothing else. Everything this script
  writes is money state and never gets a TTL: the ledger, the velocity set, the outbox, and the
  decision and authorization records, which are listed by age in the shard's retention set
  (KEYS[10]) and deleted by this script once past the idempotency window, ARGV[17] per call at
  most (each call adds at most 2, so the backlog of a busy shard only shrinks); an authorization
  group still holding money is kept until it is settled.

  Cost: every redis.call costs a few microseconds of Redis CPU beyond the command itself (argv
  objects, the reply written as RESP and parsed back into Lua), so each hash is read with ONE
  HMGET into named locals and the live ledger is written with ONE HSET at the end. A business
  authorization makes 13 calls, and up to 11 more on a call that deletes records past the idempotency
  window (at most 8 of them, one HMGET per authorization group among them).

  KEYS[1] user      cache hash  {status, rf}
  KEYS[2] card      cache hash  {status, kind, user_token, currency, card_id, user_id, rf, brf} or {missing=1}
  KEYS[3] limits    cache hash  v; per_txn; <p>_amt for p in d w m y a (minor units, "" = none);
                                vel_max, vel_win_s; g:<group>:d / g:<group>:m (category amount
                                limits); mcc_allow mcc_block mid_allow mid_block cc_allow cc_block
                                (",a,b,", "" = none); rf
  KEYS[4] balance   cache string  posted balance as persisted, minor units (personal cards)
  KEYS[5] ledger    live hash   held (active holds), pend (postings not yet persisted, signed),
                                <p>w/<p>s/<p>n window id, spend and count per period p,
                                g:<group>:<p>w / g:<group>:<p>s for p in d m, t (last change, unix ms)
  KEYS[6] decision  hash        answer of this JIT token {s, a, av, k, ci, ui, rev, mode, cid,
                                dw ww mw yw aw g (windows and MCC group its spend was counted in)}
  KEYS[7] outbox    stream      decisions waiting for the relay to RabbitMQ
  KEYS[8] auth      hash        authorization group of the original JIT token {held, state, card,
                                dw ww mw yw aw (windows it was counted in), g, n, so (its state's
                                order: unix ms, one more than the previous state's when not later)}
  KEYS[9] velocity  zset        approval times (ms) of the card, for the sliding velocity window
                                (trimmed to the window on each check: at most vel_max members)
  KEYS[10] retained zset        the shard's decision and authorization record keys, scored by the
                                unix ms they were last written (the idempotency window's clock),
                                and its booked-stand-in markers (the webhook's `booked:<token>`),
                                dated forward so the same trim deletes them 400 days after booking

  `rf` (and the card's `brf` for the balance): unix ms after which a cached part should be
  refreshed ahead of its expiry (written by fill-6.lua); the reply says which parts are due.

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
  ARGV[16] idempotency window, s: decision and authorization records are kept this long
  ARGV[17] records past the window deleted per call at most
  ARGV[18] now, unix ms (velocity window, refresh-ahead)
  ARGV[19] request summary JSON (copied to the outbox)
  ARGV[20] call id: unique per gateway call, recorded so a void undoes only its own call's decision

  Returns {status, amount_minor, replayed (0|1), kind, missing_mask, available_minor, refresh_mask}
    status >= 0  a decision status (shared/decision-status.ts); amount: approved, released or posted
    status = -1  CACHE_MISS, nothing written; missing_mask: 1 user, 2 card, 4 limits, 8 balance, 16 ledger
    available_minor: for `balance` (personal: posted + pending - held; business: least room left
    under the amount limits, -1 when none); for force_auth/force_capture (stand-in, advice) the
    part of the amount booked beyond the card's amount limits or balance; 0 otherwise
    refresh_mask: cached parts past their refresh-ahead time, same bits as missing_mask
]]
local rcall = redis.call

local user_key, card_key, limits_key, balance_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ledger_key, decision_key, outbox_key, auth_key, velocity_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local retained_key = KEYS[10]

local user_token, currency = ARGV[1], ARGV[2]
local amount = tonumber(ARGV[3])
local mcc, mid, country, group = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local PERIODS = {'d', 'w', 'm', 'y', 'a'}
local GROUP_PERIODS = {'d', 'm'}
local window = {d = ARGV[8], w = ARGV[9], m = ARGV[10], y = ARGV[11], a = ARGV[12]}
local mode = ARGV[13]
local forced = tonumber(ARGV[14])
local partial_capable = ARGV[15] == '1'
local retention_s, trim_max = tonumber(ARGV[16]), tonumber(ARGV[17])
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
-- Bits of missing_mask and refresh_mask.
local PART_USER, PART_CARD, PART_LIMITS, PART_BALANCE, PART_LEDGER = 1, 2, 4, 8, 16

local function num(value)
  if value == false or value == nil or value == '' then return nil end
  return tonumber(value)
end

-- A replayed token gets the first answer and changes nothing.
local prior = rcall('HMGET', decision_key, 's', 'a', 'k', 'av')
if prior[1] then
  return {tonumber(prior[1]), tonumber(prior[2]), 1, prior[3], 0, tonumber(prior[4] or '0'), 0}
end

local card = rcall('HMGET', card_key, 'missing', 'status', 'kind', 'user_token', 'currency', 'card_id', 'user_id',
  'rf', 'brf')
local card_missing, card_status, kind = card[1], card[2], card[3] or 'unknown'
local card_user_token, card_currency = card[4], card[5]
local card_id, card_user_id = card[6] or '', card[7] or ''
local card_refresh_ms, balance_refresh_ms = num(card[8]), num(card[9])
local available_reply = 0
-- What the amount rules of a purchase saw, for the decision trace (outbox field `ls`); '' otherwise.
local limits_seen = ''
local refresh_mask = 0
-- The ledger keeps a group's newest state by its order (outbox field `so`, set by hold_state):
-- the decision time, made strictly later than the previous state's, so two changes of one group
-- in the same millisecond (or by gateways whose clocks differ) keep the order Redis applied them in.
local state_order_ms = nil
-- The authorization group this message belongs to (the original JIT token).
local group_token = string.match(auth_key, ':auth:(.*)$') or ''

-- Every change made to the live state, as applied, travels with the outbox entry (`fx`), so
-- the worker's ledger mirrors Redis exactly (shared/ledger-effects.ts parses it):
--   held:<d>  pend:<d>  spend:<p>:<window>:<d>:<n>  gspend:<group>:<p>:<window>:<d>  hold:<d>  hold_state:<s>
local effects = {}
local function effect(text)
  effects[#effects + 1] = text
end

-- Changed fields of the live ledger and of the authorization group, written once each (flush).
local ledger_changes, ledger_changed = {}, false
local function set_ledger(field, value)
  ledger_changes[#ledger_changes + 1] = field
  ledger_changes[#ledger_changes + 1] = value
  ledger_changed = true
end
local auth_changes, auth_changed, auth_touch = {}, false, false
local function set_auth(field, value)
  auth_changes[#auth_changes + 1] = field
  auth_changes[#auth_changes + 1] = value
  auth_changed = true
end
local function flush()
  if ledger_changed then
    -- `t` tells the start-up preload which cards were active (gateway/decide/cache-preload.ts).
    set_ledger('t', now_ms)
    rcall('HSET', ledger_key, unpack(ledger_changes))
  end
  if auth_changed then rcall('HSET', auth_key, unpack(auth_changes)) end
  -- A hold restarts its group's idempotency window, as a recorded decision starts its own.
  if auth_touch then rcall('ZADD', retained_key, now_ms, auth_key) end
end

-- Deletes up to trim_max records last written before the idempotency window, oldest first.
-- They carry this shard's hash tag: the same slot on Redis Cluster. An authorization group that
-- still holds money is live state whatever its age (hold expiry has not released it yet, say
-- HOLD_EXPIRY_DAYS is longer than the window): kept, and looked at again one window later.
local function trim()
  local old = rcall('ZRANGEBYSCORE', retained_key, '-inf', now_ms - retention_s * 1000, 'LIMIT', 0, trim_max)
  local gone = {}
  for _, key in ipairs(old) do
    local open_group = nil
    if string.find(key, '}:auth:', 1, true) then
      local g = rcall('HMGET', key, 'state', 'held')
      open_group = g[1] == 'pending' and (tonumber(g[2]) or 0) > 0
    end
    if open_group then
      rcall('ZADD', retained_key, now_ms, key)
    else
      gone[#gone + 1] = key
    end
  end
  if #gone > 0 then
    rcall('DEL', unpack(gone))
    rcall('ZREM', retained_key, unpack(gone))
  end
end

-- Writes what changed, appends the decision to the outbox and records it for replays.
local function record(status, moved, extra)
  flush()
  rcall('HSET', decision_key, 's', status, 'a', moved, 'av', available_reply, 'k', kind,
    'ci', card_id, 'ui', card_user_id, 'rev', 1, 'mode', mode, 'cid', call_id,
    'dw', window.d, 'ww', window.w, 'mw', window.m, 'yw', window.y, 'aw', window.a, 'g', group, 'grp', group_token)
  rcall('ZADD', retained_key, now_ms, decision_key)
  trim()
  local entry = {'r', request_json, 's', status, 'a', moved, 'k', kind, 'ci', card_id, 'ui', card_user_id,
    't', now_ms, 'rev', 1, 'mode', mode, 'av', available_reply, 'grp', group_token, 'fx', table.concat(effects, ';')}
  for i = 1, #(extra or {}) do entry[#entry + 1] = extra[i] end
  if limits_seen ~= '' then
    entry[#entry + 1] = 'ls'
    entry[#entry + 1] = limits_seen
  end
  if state_order_ms then
    entry[#entry + 1] = 'so'
    entry[#entry + 1] = state_order_ms
  end
  rcall('XADD', outbox_key, '*', unpack(entry))
  return {status, moved, 0, kind, 0, available_reply, refresh_mask}
end

if forced >= 0 then return record(forced, 0) end
if card_missing then return record(CARD_NOT_FOUND, 0) end

-- Cache completeness: everything the rules read must be present, or the caller loads it.
local user = rcall('HMGET', user_key, 'status', 'rf')
local user_status, user_refresh_ms = user[1], num(user[2])

local LIMIT_FIELDS = {'v', 'per_txn', 'd_amt', 'w_amt', 'm_amt', 'y_amt', 'a_amt', 'vel_max', 'vel_win_s',
  'mcc_allow', 'mcc_block', 'mid_allow', 'mid_block', 'cc_allow', 'cc_block', 'rf'}
if group ~= '' then
  LIMIT_FIELDS[#LIMIT_FIELDS + 1] = 'g:' .. group .. ':d'
  LIMIT_FIELDS[#LIMIT_FIELDS + 1] = 'g:' .. group .. ':m'
end
local lim = rcall('HMGET', limits_key, unpack(LIMIT_FIELDS))
local limits_present = false
for i = 1, #LIMIT_FIELDS do
  if lim[i] then limits_present = true break end
end
local limits = {
  per_txn = num(lim[2]), amt = {d = num(lim[3]), w = num(lim[4]), m = num(lim[5]), y = num(lim[6]), a = num(lim[7])},
  vel_max = num(lim[8]), vel_win_s = num(lim[9]),
  mcc_allow = lim[10] or '', mcc_block = lim[11] or '', mid_allow = lim[12] or '', mid_block = lim[13] or '',
  cc_allow = lim[14] or '', cc_block = lim[15] or '', refresh_ms = num(lim[16]),
  group = {d = num(lim[17]), m = num(lim[18])},
}

local posted = nil
if kind == 'personal' then posted = rcall('GET', balance_key) end

-- Live state of the card: holds, postings, spend per period (and per group) in its windows.
local LEDGER_FIELDS = {'held', 'pend'}
for _, p in ipairs(PERIODS) do
  LEDGER_FIELDS[#LEDGER_FIELDS + 1] = p .. 'w'
  LEDGER_FIELDS[#LEDGER_FIELDS + 1] = p .. 's'
  LEDGER_FIELDS[#LEDGER_FIELDS + 1] = p .. 'n'
end
if group ~= '' then
  for _, p in ipairs(GROUP_PERIODS) do
    LEDGER_FIELDS[#LEDGER_FIELDS + 1] = 'g:' .. group .. ':' .. p .. 'w'
    LEDGER_FIELDS[#LEDGER_FIELDS + 1] = 'g:' .. group .. ':' .. p .. 's'
  end
end
local lv = rcall('HMGET', ledger_key, unpack(LEDGER_FIELDS))
-- The fill always writes held, pend and the day window: none of them means no ledger hash.
local ledger_present = lv[1] or lv[2] or lv[3]

local missing = 0
if not card_status then missing = missing + PART_CARD end
if not user_status then missing = missing + PART_USER end
if not limits_present then missing = missing + PART_LIMITS end
if kind == 'personal' and not posted then missing = missing + PART_BALANCE end
if not ledger_present then missing = missing + PART_LEDGER end
if missing > 0 then return {CACHE_MISS, 0, 0, kind, missing, 0, 0} end

-- Refresh-ahead: parts read in the last part of their TTL are refilled in the background.
local function due(refresh_ms)
  return refresh_ms ~= nil and now_ms >= refresh_ms
end
if due(user_refresh_ms) then refresh_mask = refresh_mask + PART_USER end
if due(card_refresh_ms) then refresh_mask = refresh_mask + PART_CARD end
if due(limits.refresh_ms) then refresh_mask = refresh_mask + PART_LIMITS end
if kind == 'personal' and due(balance_refresh_ms) then refresh_mask = refresh_mask + PART_BALANCE end

if card_user_token ~= user_token then return record(CARD_USER_MISMATCH, 0) end
if card_currency ~= currency then return record(CURRENCY_MISMATCH, 0) end

local held, pend = num(lv[1]) or 0, num(lv[2]) or 0
local ledger_window, spent, count = {}, {}, {}
for i, p in ipairs(PERIODS) do
  ledger_window[p] = lv[3 * i]
  local same = lv[3 * i] == window[p]
  spent[p] = same and (num(lv[3 * i + 1]) or 0) or 0
  count[p] = same and (num(lv[3 * i + 2]) or 0) or 0
end
-- Category spend of this request's group in its current windows (0 in a stale window).
local group_spent = {}
if group ~= '' then
  -- After held, pend and 5 periods x 3 fields (17), each group period has a window and a spend.
  for j, p in ipairs(GROUP_PERIODS) do
    local at = 16 + 2 * j
    group_spent[p] = (lv[at] == window[p]) and (num(lv[at + 1]) or 0) or 0
  end
end

local function available()
  return tonumber(posted or '0') + pend - held
end

local function add_held(delta)
  held = held + delta
  set_ledger('held', string.format('%d', held))
  effect(string.format('held:%d', delta))
end

local function add_pend(delta)
  pend = pend + delta
  set_ledger('pend', string.format('%d', pend))
  effect(string.format('pend:%d', delta))
end

-- Adds `delta` spend (and `n` to the count) in the current windows; a stale window restarts at 0.
local function count_spend(delta, n)
  for _, p in ipairs(PERIODS) do
    local next_spent = math.max(0, spent[p] + delta)
    set_ledger(p .. 'w', window[p])
    set_ledger(p .. 's', string.format('%d', next_spent))
    set_ledger(p .. 'n', count[p] + n)
    effect(string.format('spend:%s:%s:%d:%d', p, window[p], next_spent - spent[p], n))
    spent[p], count[p] = next_spent, count[p] + n
  end
  if group ~= '' then
    for _, p in ipairs(GROUP_PERIODS) do
      local next_spent = math.max(0, group_spent[p] + delta)
      set_ledger('g:' .. group .. ':' .. p .. 'w', window[p])
      set_ledger('g:' .. group .. ':' .. p .. 's', string.format('%d', next_spent))
      effect(string.format('gspend:%s:%s:%s:%d', group, p, window[p], next_spent - group_spent[p]))
      group_spent[p] = next_spent
    end
  end
end

-- The authorization group (read once, when the mode needs it).
local auth = nil
local function read_auth()
  local a = rcall('HMGET', auth_key, 'held', 'state', 'dw', 'ww', 'mw', 'yw', 'aw', 'g', 'so')
  auth = {
    exists = a[1] ~= false or a[2] ~= false,
    held = num(a[1]) or 0, state = a[2] or nil,
    window = {d = a[3], w = a[4], m = a[5], y = a[6], a = a[7]}, group = a[8] or '',
    state_order_ms = num(a[9]) or 0,
  }
  return auth
end

local function hold_delta(delta)
  auth.held = auth.held + delta
  set_auth('held', string.format('%d', auth.held))
  effect(string.format('hold:%d', delta))
end

local function hold_state(state)
  auth.state = state
  state_order_ms = math.max(now_ms, auth.state_order_ms + 1)
  auth.state_order_ms = state_order_ms
  set_auth('state', state)
  set_auth('so', state_order_ms)
  effect('hold_state:' .. state)
end

-- Removes `delta` spend from the windows an authorization was counted in, if still current.
local function uncount_spend(delta)
  for _, p in ipairs(PERIODS) do
    if auth.window[p] == window[p] and ledger_window[p] == window[p] then
      local next_spent = math.max(0, spent[p] - delta)
      set_ledger(p .. 's', string.format('%d', next_spent))
      effect(string.format('spend:%s:%s:%d:0', p, window[p], next_spent - spent[p]))
      spent[p] = next_spent
    end
  end
  local auth_group = auth.group
  if auth_group ~= '' then
    local fields = {}
    for _, p in ipairs(GROUP_PERIODS) do
      fields[#fields + 1] = 'g:' .. auth_group .. ':' .. p .. 'w'
      fields[#fields + 1] = 'g:' .. auth_group .. ':' .. p .. 's'
    end
    local g = rcall('HMGET', ledger_key, unpack(fields))
    for j, p in ipairs(GROUP_PERIODS) do
      local group_window = g[2 * j - 1]
      if group_window == auth.window[p] then
        local base = num(g[2 * j]) or 0
        local next_spent = math.max(0, base - delta)
        set_ledger('g:' .. auth_group .. ':' .. p .. 's', string.format('%d', next_spent))
        effect(string.format('gspend:%s:%s:%s:%d', auth_group, p, group_window, next_spent - base))
      end
    end
  end
end

-- Holds belong to the authorization group of the original JIT token.
local function hold(value)
  add_held(value)
  if not auth.exists then
    auth.exists, auth.state = true, 'pending'
    set_auth('held', 0)
    set_auth('state', 'pending')
    set_auth('dw', window.d)
    set_auth('ww', window.w)
    set_auth('mw', window.m)
    set_auth('yw', window.y)
    set_auth('aw', window.a)
    set_auth('g', group)
  elseif auth.state ~= 'pending' then
    -- Only a stand-in/advice can hold on a settled group (incrementals are declined): it
    -- reopens the group, so the hold counts as pending here and in the ledger alike.
    hold_state('pending')
  end
  hold_delta(value)
  auth_touch = true
end

-- Least room left under the amount limits (nil when none applies) and the status naming it.
local function amount_room()
  local room, status = nil, nil
  if limits.per_txn then room, status = limits.per_txn, LIMIT_PER_TRANSACTION end
  for _, p in ipairs(PERIODS) do
    local limit = limits.amt[p]
    if limit and (room == nil or limit - spent[p] < room) then room, status = limit - spent[p], LIMIT_STATUS[p] end
  end
  if group ~= '' then
    for _, p in ipairs(GROUP_PERIODS) do
      local limit = limits.group[p]
      if limit and (room == nil or limit - group_spent[p] < room) then
        room, status = limit - group_spent[p], LIMIT_CATEGORY
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

-- The limits and spend the amount rules read (shared/limits-seen.ts parses it), ';'-separated:
-- `txn:<limit>`, `<p>:<spent>/<limit>` per limited period, `g<p>:<spent>/<limit>` for the
-- request's category, `vel:<approvals in window>/<max>`, `bal:<available>` (personal cards).
local function note_limits_seen(velocity_count)
  local parts = {}
  if limits.per_txn then parts[#parts + 1] = string.format('txn:%d', limits.per_txn) end
  for _, p in ipairs(PERIODS) do
    if limits.amt[p] then parts[#parts + 1] = string.format('%s:%d/%d', p, spent[p], limits.amt[p]) end
  end
  if group ~= '' then
    for _, p in ipairs(GROUP_PERIODS) do
      if limits.group[p] then
        parts[#parts + 1] = string.format('g%s:%d/%d', p, group_spent[p], limits.group[p])
      end
    end
  end
  if velocity_count then parts[#parts + 1] = string.format('vel:%d/%d', velocity_count, limits.vel_max) end
  if kind == 'personal' then parts[#parts + 1] = string.format('bal:%d', available()) end
  limits_seen = table.concat(parts, ';')
end

-- The full rule set of a purchase; returns (status, approved amount).
local function purchase_check()
  local refusal = status_check()
  if refusal then return refusal, 0 end
  if amount <= 0 then return INVALID_AMOUNT, 0 end
  -- Merchant rules fail closed: with an allow list, a request without the field is refused.
  if refused(limits.mcc_allow, limits.mcc_block, mcc) or refused(limits.mid_allow, limits.mid_block, mid) then
    return MERCHANT_RESTRICTED, 0
  end
  if refused(limits.cc_allow, limits.cc_block, country) then return COUNTRY_RESTRICTED, 0 end
  local velocity_count = nil
  if limits.vel_max and limits.vel_win_s then
    rcall('ZREMRANGEBYSCORE', velocity_key, '-inf', now_ms - limits.vel_win_s * 1000)
    velocity_count = rcall('ZCARD', velocity_key)
  end
  note_limits_seen(velocity_count)
  if velocity_count and velocity_count >= limits.vel_max then return LIMIT_VELOCITY, 0 end
  local room, status = amount_room()
  if room == nil or amount <= room then return APPROVED, amount end
  if partial_capable and room > 0 then return APPROVED, room end
  return status, 0
end

-- Only a card with both velocity settings keeps approval times: purchase_check trims them to the
-- window first and refuses at vel_max, so the set (no TTL) never holds more than vel_max.
local function note_velocity()
  if limits.vel_max and limits.vel_win_s then
    rcall('ZADD', velocity_key, now_ms, decision_key)
  end
end

if mode == 'auth' or mode == 'incremental' or mode == 'capture' then
  if mode ~= 'capture' then read_auth() end
  -- An incremental cannot add to an authorization that was already cleared or reversed: the
  -- purchase it belonged to is over. Declined, so nothing reopens a settled hold.
  if mode == 'incremental' and auth.state and auth.state ~= 'pending' then return record(AUTHORIZATION_CLOSED, 0) end
  local status, approved = purchase_check()
  if status ~= APPROVED then return record(status, 0) end
  count_spend(approved, 1)
  note_velocity()
  if mode == 'capture' then add_pend(-approved) else hold(approved) end
  return record(APPROVED, approved)
end

if mode == 'force_auth' or mode == 'force_capture' then
  -- Advice and stand-in messages report what the network already did: booked, never declined.
  -- What it adds beyond the least room left is reported (reconciliation's over-limit report).
  local room = amount_room()
  if room ~= nil then available_reply = math.max(0, amount - math.max(0, room)) end
  count_spend(amount, 1)
  if mode == 'force_capture' then
    add_pend(-amount)
  else
    read_auth()
    hold(amount)
  end
  return record(APPROVED, amount)
end

if mode == 'reversal' or mode == 'clearing' or mode == 'release' then
  read_auth()
  -- Never below zero (void-5.lua undoes no more than a group holds): what a group could release.
  local auth_held = math.max(0, auth.held)
  if mode == 'reversal' or mode == 'release' then
    -- Releases at most what is still held: a second or oversized reversal releases nothing more.
    local released = (mode == 'release') and auth_held or math.min(amount, auth_held)
    if released > 0 then
      add_held(-released)
      uncount_spend(released)
      hold_delta(-released)
      if auth_held - released == 0 then hold_state(mode == 'release' and 'released' or 'reversed') end
    end
    return record(APPROVED, released, {'released', released})
  end
  -- Clearing posts the cleared amount and releases the whole remaining hold; spend moves from
  -- what was held to what was cleared. Without a prior authorization it is a force post.
  if auth.state then
    add_held(-auth_held)
    if amount >= auth_held then count_spend(amount - auth_held, 0) else uncount_spend(auth_held - amount) end
    if auth_held ~= 0 then hold_delta(-auth_held) end
    hold_state('cleared')
  else
    count_spend(amount, 1)
  end
  add_pend(-amount)
  return record(APPROVED, amount, {'released', auth_held})
end

if mode == 'refund_post' then
  -- A credit: the posted balance grows; spend limits keep counting gross spend.
  add_pend(amount)
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
