-- requeue.lua: hand an admitted task that no runner started back to admission.
-- KEYS[1] task             the task's hash
-- KEYS[2] leases           the leases zset
-- KEYS[3] project_active   the project's active set
-- KEYS[4] code_active      the code's active set
-- KEYS[5] waiting          its lane's waiting zset (its code's, or its concurrency key's)
-- KEYS[6] waiting_lanes    the project's waiting-lanes set
-- KEYS[7] ready_projects   the ready-projects set
-- KEYS[8] wake             the scheduler's wake list
-- KEYS[9] lane_active      its lane's active set (its concurrency key's)
-- KEYS[10] dispatched      its cluster's dispatched set
-- ARGV[1] task_id
-- ARGV[2] attempt          the attempt the caller saw
-- ARGV[3] now
-- ARGV[4] score            its admission score
-- ARGV[5] lane
-- ARGV[6] project_id
-- Returns 1 when requeued; 0 when the task started, ended or was re-admitted meanwhile.
-- Invariant: the slot is released and the task is waiting again in one step; the next
-- admission gives it a new attempt, so a late start of the lost dispatch is refused.
if redis.call('HGET', KEYS[1], 'status') ~= 'queued'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2] then
  return 0
end
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expiry or tonumber(expiry) > tonumber(ARGV[3]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[9], ARGV[1])
redis.call('SREM', KEYS[10], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[5])
redis.call('SADD', KEYS[7], ARGV[6])
wake(KEYS[8])
return 1
