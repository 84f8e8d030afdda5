-- admit.lua: admit waiting tasks of one project while its limits allow.
-- KEYS[1] project            the project's hash
-- KEYS[2] project_active     the project's active set
-- KEYS[3] waiting_lanes      the project's waiting-lanes set
-- KEYS[4] ready_projects     the ready-projects set
-- KEYS[5] leases             the leases zset
-- KEYS[6] lane_turns         the project's lane-turns hash
-- KEYS[7] task_seq           the task seq counter
-- KEYS[8...] tail_keys       the dispatched set of each bounded cluster (ARGV[4] of them);
--                            then 5 keys per lane (ARGV[3] lanes): its code's hash, its
--                            waiting zset, its code's active set, its own active set (the
--                            code's again for a code's own lane), its rate window zset;
--                            then one task hash per candidate, in the order of ARGV
-- ARGV[1] project_id
-- ARGV[2] lease_expiry       dispatch lease expiry (epoch s)
-- ARGV[3] lanes              the number of lanes
-- ARGV[4] clusters           the number of bounded clusters
-- ARGV[5...] tail_args       per bounded cluster: its name, how many of its tasks may be
--                            admitted and not yet started (its live runners' slots); other
--                            clusters are unbounded. Then per lane: lane id, '1' if it is a
--                            concurrency key's lane, k, and k pairs of a candidate task id
--                            and its admission score (the head of its waiting zset, in order)
-- Returns a flat list: task id, attempt, cluster, priority, task id, attempt, ...
--
-- Invariants: a project's, code's or key's active set never grows past its limit
-- (max_concurrency, max_concurrency_per_key; empty = unlimited); a code admits at most
-- rate_limit_count tasks in any rate_limit_period_s (Redis's clock, so every scheduler
-- agrees); a paused code admits nothing. Within the project the waiting task with the lowest
-- effective score goes first: priority, then arrival; a key's lane counts as arriving no
-- earlier than when it was last served, so keys take turns. A candidate is admitted only
-- while it is still the head of its lane, so concurrent schedulers never admit a task twice.
-- An admitted task gets a dispatch lease: if no runner starts it in time, the reaper hands
-- it back. A bounded cluster never holds more admitted, unstarted tasks than its bound, so
-- tasks wait here, in turn, rather than first come first served in the runners' queues.
-- Lanes whose queue is empty are dropped from the indexes.

local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6

local function has_room(limit, active)
  limit = tonumber(limit)
  return (not limit) or redis.call('SCARD', active) < limit
end

local function rate_of(lane)
  local count, period = unpack(redis.call('HMGET', lane.hash, 'rate_limit_count',
                                          'rate_limit_period_s'))
  return tonumber(count), tonumber(period)
end

local function is_open(lane)
  local code = redis.call('HMGET', lane.hash, 'paused', 'max_concurrency',
                          'max_concurrency_per_key')
  if code[1] == '1' or not has_room(code[2], lane.code_active) then return false end
  if lane.keyed and not has_room(code[3], lane.active) then return false end
  local count, period = rate_of(lane)
  if count and period then
    redis.call('ZREMRANGEBYSCORE', lane.window, '-inf', now - period)
    if redis.call('ZCARD', lane.window) >= count then return false end
  end
  return true
end

-- The lane's current candidate's place in the order.
local function rank(lane)
  local score = lane.scores[lane.pos]
  if not lane.keyed then return score end
  local band = math.floor(score / BAND) * BAND
  return band + math.max(score - band, lane.turn)
end

-- Lanes in order of rank; a lane re-ranked after a turn goes behind those ranked the same.
local order = {}
local function place(lane)
  lane.rank = rank(lane)
  local low, high = 1, #order + 1
  while low < high do
    local mid = math.floor((low + high) / 2)
    if order[mid].rank <= lane.rank then low = mid + 1 else high = mid end
  end
  table.insert(order, low, lane)
end

local bounds = {}
local n_clusters = tonumber(ARGV[4])
for c = 1, n_clusters do
  bounds[ARGV[3 + 2 * c]] = {limit = ARGV[4 + 2 * c], set = KEYS[7 + c]}
end

local n_lanes = tonumber(ARGV[3])
local lanes = {}
local a, k = 5 + 2 * n_clusters, 8 + n_clusters
for c = 1, n_lanes do
  local lane = {id = ARGV[a], keyed = ARGV[a + 1] == '1', n = tonumber(ARGV[a + 2]), pos = 1,
                hash = KEYS[k], waiting = KEYS[k + 1], code_active = KEYS[k + 2],
                active = KEYS[k + 3], window = KEYS[k + 4], cands = {}, scores = {}, tkeys = {}}
  a = a + 3
  k = k + 5
  for j = 1, lane.n do
    lane.cands[j], lane.scores[j] = ARGV[a], tonumber(ARGV[a + 1])
    a = a + 2
  end
  lane.turn = lane.keyed and tonumber(redis.call('HGET', KEYS[6], lane.id)) or 0
  lanes[c] = lane
end
for _, lane in ipairs(lanes) do
  for j = 1, lane.n do
    lane.tkeys[j] = KEYS[k]
    k = k + 1
  end
  if lane.n > 0 then place(lane) end
end

local admitted = {}
while #order > 0 and has_room(redis.call('HGET', KEYS[1], 'max_concurrency'), KEYS[2]) do
  local best = table.remove(order, 1)
  local task_id, task_key = best.cands[best.pos], best.tkeys[best.pos]
  local cluster = redis.call('HGET', task_key, 'cluster')
  local bound = bounds[cluster]
  -- A lane that is full, whose cluster's runners have enough waiting for them, or whose
  -- queue changed under us, waits for the next round.
  local head = is_open(best) and has_room(bound and bound.limit, bound and bound.set)
               and redis.call('ZRANGE', best.waiting, 0, 0)[1]
  if head == task_id then
    best.pos = best.pos + 1
    if bound then redis.call('SADD', bound.set, task_id) end
    redis.call('ZREM', best.waiting, task_id)
    redis.call('SADD', KEYS[2], task_id)
    redis.call('SADD', best.code_active, task_id)
    redis.call('SADD', best.active, task_id)
    local count, period = rate_of(best)
    if count and period then
      redis.call('ZADD', best.window, now, task_id)
      redis.call('EXPIRE', best.window, math.ceil(period) + 1)
    end
    if best.keyed then -- behind every task queued so far: the other keys go first
      best.turn = (tonumber(redis.call('GET', KEYS[7])) or 0) + 1
      redis.call('HSET', KEYS[6], best.id, best.turn)
    end
    local attempt = redis.call('HINCRBY', task_key, 'attempt', 1)
    redis.call('HSET', task_key, 'admitted_at', now)
    redis.call('HDEL', task_key, 'taken_by') -- no runner has taken this attempt yet
    redis.call('ZADD', KEYS[5], ARGV[2], task_id)
    admitted[#admitted + 1] = task_id
    admitted[#admitted + 1] = attempt
    admitted[#admitted + 1] = cluster
    admitted[#admitted + 1] = redis.call('HGET', task_key, 'priority')
    if best.pos <= best.n then place(best) end
  end
end

for _, lane in ipairs(lanes) do
  if redis.call('ZCARD', lane.waiting) == 0 then
    redis.call('SREM', KEYS[3], lane.id)
    redis.call('HDEL', KEYS[6], lane.id)
  end
end
if redis.call('SCARD', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[1])
end
return admitted
