--[[
  void: the gateway answered `timeout` for this JIT token because the decision did not come
  back within the budget. Make Redis agree with that answer. The gateway sends this on the
  same connection right after the decide call, so Redis runs it after that call.

  - no decision recorded yet: record a TIMEOUT decline (a late decide call becomes a replay);
  - an approval was recorded: release its hold and its window spend, turn it into a TIMEOUT
    decline (revision 2), and tell the worker through the outbox;
  - a decline was recorded: nothing to undo (the answer was a decline either way).

  KEYS[1] ledger    live hash {held, dw, ds, mw, ms}
  KEYS[2] decision  hash {s, a, k, dw, mw, ci, ui, rev}
  KEYS[3] outbox    stream

  ARGV[1] request summary JSON (as given to decide)
  ARGV[2] TIMEOUT status code
  ARGV[3] decision record TTL, seconds

  Returns {previous status or -1, released amount minor}
]]
local rcall = redis.call
local ledger_key, decision_key, outbox_key = KEYS[1], KEYS[2], KEYS[3]
local request_json, timeout_status, decision_ttl_s = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local APPROVED = 0

local time = rcall('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local d = rcall('HMGET', decision_key, 's', 'a', 'k', 'dw', 'mw', 'ci', 'ui')
if not d[1] then
  rcall('HSET', decision_key, 's', timeout_status, 'a', 0, 'k', 'unknown', 'ci', '', 'ui', '', 'rev', 1)
  rcall('EXPIRE', decision_key, decision_ttl_s)
  rcall('XADD', outbox_key, '*', 'r', request_json, 's', timeout_status, 'a', 0, 'k', 'unknown',
    'ci', '', 'ui', '', 't', now_ms, 'rev', 1)
  return {-1, 0}
end

local previous = tonumber(d[1])
if previous ~= APPROVED then
  return {previous, 0}
end

local released = d[2]
rcall('HINCRBY', ledger_key, 'held', '-' .. released)
local ledger = rcall('HMGET', ledger_key, 'dw', 'mw')
if ledger[1] == d[4] then rcall('HINCRBY', ledger_key, 'ds', '-' .. released) end
if ledger[2] == d[5] then rcall('HINCRBY', ledger_key, 'ms', '-' .. released) end
rcall('HSET', decision_key, 's', timeout_status, 'a', 0, 'rev', 2)
rcall('XADD', outbox_key, '*', 'r', request_json, 's', timeout_status, 'a', 0, 'k', d[3],
  'ci', d[6], 'ui', d[7], 't', now_ms, 'rev', 2, 'released', released)
return {previous, tonumber(released)}
