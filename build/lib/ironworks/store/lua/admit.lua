-- admit.lua: admit waiting tasks of one project while its limits allow.
-- KEYS[1] project hash              KEYS[2] project active set
-- KEYS[3] project waiting-codes set KEYS[4] ready-projects set  KEYS[5] leases zset
-- then 3 keys per code (ARGV[3] codes): code hash, code waiting zset, code active set
-- then one task hash per candidate, in the order the candidates appear in ARGV.
-- ARGV[1] project id  ARGV[2] dispatch lease expiry (epoch s)  ARGV[3] number of codes
-- then per code: code id, k, and k candidate task ids (the head of its waiting zset, in order).
-- Returns a flat list: task id, attempt, cluster, task id, attempt, cluster, ...
--
-- Invariants: a project's / code's active set never grows past its max_concurrency (empty =
-- unlimited); a paused code admits nothing; within the project the waiting task with the lowest
-- score (highest priority, then oldest) among codes that may run goes first; a candidate is
-- admitted only while it is still the head of its queue, so concurrent schedulers never admit
-- a task twice. An admitted task gets a dispatch lease: if no runner starts it in time, the
-- reaper hands it back. Codes whose queue is empty are dropped from the indexes.

local function has_room(hash, active)
  local limit = tonumber(redis.call('HGET', hash, 'max_concurrency'))
  return (not limit) or redis.call('SCARD', active) < limit
end

local n_codes = tonumber(ARGV[3])
local codes = {}
local a, k = 4, 6
for c = 1, n_codes do
  local code = {id = ARGV[a], hash = KEYS[k], waiting = KEYS[k + 1], active = KEYS[k + 2],
                n = tonumber(ARGV[a + 1]), pos = 1, cands = {}, tkeys = {}}
  a = a + 2
  k = k + 3
  for j = 1, code.n do
    code.cands[j] = ARGV[a]
    a = a + 1
  end
  codes[c] = code
end
for _, code in ipairs(codes) do
  for j = 1, code.n do
    code.tkeys[j] = KEYS[k]
    k = k + 1
  end
end

local admitted = {}
while has_room(KEYS[1], KEYS[2]) do
  local best, best_score = nil, nil
  for _, code in ipairs(codes) do
    if code.pos <= code.n and redis.call('HGET', code.hash, 'paused') ~= '1'
        and has_room(code.hash, code.active) then
      local head = redis.call('ZRANGE', code.waiting, 0, 0, 'WITHSCORES')
      if head[1] == code.cands[code.pos] then
        local score = tonumber(head[2])
        if not best_score or score < best_score then
          best, best_score = code, score
        end
      else
        code.pos = code.n + 1 -- the queue changed under us: leave this code to the next round
      end
    end
  end
  if not best then break end
  local task_id, task_key = best.cands[best.pos], best.tkeys[best.pos]
  best.pos = best.pos + 1
  redis.call('ZREM', best.waiting, task_id)
  redis.call('SADD', KEYS[2], task_id)
  redis.call('SADD', best.active, task_id)
  local attempt = redis.call('HINCRBY', task_key, 'attempt', 1)
  redis.call('ZADD', KEYS[5], ARGV[2], task_id)
  admitted[#admitted + 1] = task_id
  admitted[#admitted + 1] = attempt
  admitted[#admitted + 1] = redis.call('HGET', task_key, 'cluster')
end

for _, code in ipairs(codes) do
  if redis.call('ZCARD', code.waiting) == 0 then
    redis.call('SREM', KEYS[3], code.id)
  end
end
if redis.call('SCARD', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[1])
end
return admitted
