--[[
  void: the gateway answered `timeout` for this JIT token because the decision did not come
  back within the budget. Make Redis agree with that answer. The gateway sends this on the
  same connection right after the decide call, so Redis runs it afterwards.

  - no decision recorded yet: record a TIMEOUT decline (a late decide call becomes a replay);
  - an approved purchase (auth, incremental, capture): undo its hold or posting and its spend,
    turn it into a TIMEOUT decline (revision 2) and tell the worker through the outbox; of a
    hold, only what its group still holds (nothing once a clearing or reversal settled it);
  - anything else (a decline, or a reversal/clearing/refund, which report what the network
    already did): nothing to undo;
  - a decision recorded by another call (the slow call was a replay of an earlier answer):
    never touched; that earlier answer stands. Except with call id `*`: Marqeta stood in for
    the token (our answer never reached it, so any approval of ours is superseded).

  KEYS[1] ledger    live hash (see decide-10.lua)
  KEYS[2] decision  hash {s, a, k, ci, ui, mode, dw ww mw yw aw g}
  KEYS[3] outbox    stream
  KEYS[4] auth      hash: the authorization group the decision held in
  KEYS[5] retained  zset: the shard's records by age (decide-10.lua KEYS[10]); a TIMEOUT decline
                    recorded here is listed there, so decide-10.lua deletes it after the window

  ARGV[1] request summary JSON (as given to decide)
  ARGV[2] TIMEOUT status code
  ARGV[3] now, unix ms
  ARGV[4] call id of the decide call that went over budget, or `*` (any call: superseded)

  Returns {previous status or -1, released amount minor}
]]
local rcall = redis.call
local ledger_key, decision_key, outbox_key, auth_key, retained_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local request_json, timeout_status, now_ms, call_id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local APPROVED = 0
local UNDONE_MODES = {auth = true, incremental = true, capture = true}

local d = rcall('HMGET', decision_key, 's', 'a', 'k', 'ci', 'ui', 'mode', 'dw', 'ww', 'mw', 'yw', 'aw', 'g', 'cid')
if not d[1] then
  rcall('HSET', decision_key, 's', timeout_status, 'a', 0, 'k', 'unknown', 'ci', '', 'ui', '', 'rev', 1, 'mode', 'void',
    'cid', call_id)
  rcall('ZADD', retained_key, now_ms, decision_key)
  rcall('XADD', outbox_key, '*', 'r', request_json, 's', timeout_status, 'a', 0, 'k', 'unknown',
    'ci', '', 'ui', '', 't', now_ms, 'rev', 1, 'mode', 'void')
  return {-1, 0}
end

local previous = tonumber(d[1])
if (call_id ~= '*' and d[13] ~= call_id) or previous ~= APPROVED or not UNDONE_MODES[d[6]] then
  return {previous, 0}
end

-- The changes undone, as applied, for the worker's ledger (same format as decide-9.lua's `fx`).
local effects = {}
local released = tonumber(d[2])
if d[6] ~= 'capture' then
  -- The approval's hold may be gone already: a clearing or reversal of its group decided since
  -- (another connection, before this void ran) released what the group held, this approval's part
  -- included, and settled its spend. Undoing it again would take the group, and the card's held,
  -- below zero: only what the group still holds is released, nothing of a settled group.
  local group = rcall('HMGET', auth_key, 'held', 'state')
  if group[2] and group[2] ~= 'pending' then
    released = 0
  else
    released = math.min(released, math.max(0, tonumber(group[1] or '0') or 0))
  end
end
local text = string.format('%d', released)
if d[6] == 'capture' then
  rcall('HINCRBY', ledger_key, 'pend', text)
  effects[#effects + 1] = 'pend:' .. text
elseif released > 0 then
  rcall('HINCRBY', ledger_key, 'held', '-' .. text)
  rcall('HINCRBY', auth_key, 'held', '-' .. text)
  effects[#effects + 1] = 'held:-' .. text
  effects[#effects + 1] = 'hold:-' .. text
end
local periods = {'d', 'w', 'm', 'y', 'a'}
for i, p in ipairs(periods) do
  local current = rcall('HMGET', ledger_key, p .. 'w', p .. 's', p .. 'n')
  if current[1] == d[6 + i] then
    local before_spent, before_count = tonumber(current[2] or '0'), tonumber(current[3] or '0')
    local after_spent, after_count = math.max(0, before_spent - released), math.max(0, before_count - 1)
    rcall('HSET', ledger_key, p .. 's', string.format('%d', after_spent), p .. 'n', after_count)
    effects[#effects + 1] = string.format('spend:%s:%s:%d:%d', p, current[1], after_spent - before_spent,
      after_count - before_count)
  end
end
local group = d[12]
if group and group ~= '' then
  for _, pair in ipairs({{'d', d[7]}, {'m', d[9]}}) do
    local gw, gs = 'g:' .. group .. ':' .. pair[1] .. 'w', 'g:' .. group .. ':' .. pair[1] .. 's'
    local g = rcall('HMGET', ledger_key, gw, gs)
    if g[1] == pair[2] then
      local before = tonumber(g[2] or '0')
      local after = math.max(0, before - released)
      rcall('HSET', ledger_key, gs, string.format('%d', after))
      effects[#effects + 1] = string.format('gspend:%s:%s:%s:%d', group, pair[1], g[1], after - before)
    end
  end
end
rcall('HSET', decision_key, 's', timeout_status, 'a', 0, 'rev', 2)
rcall('XADD', outbox_key, '*', 'r', request_json, 's', timeout_status, 'a', 0, 'k', d[3],
  'ci', d[4], 'ui', d[5], 't', now_ms, 'rev', 2, 'mode', d[6], 'released', text,
  'grp', string.match(auth_key, ':auth:(.*)$') or '', 'fx', table.concat(effects, ';'))
return {previous, released}
