-- requeue.lua: hand an admitted task that no runner started back to admission.
-- KEYS[1] task hash  KEYS[2] leases zset  KEYS[3] project active set  KEYS[4] code active set
-- KEYS[5] lane waiting zset  KEYS[6] project waiting-lanes set  KEYS[7] ready-projects set
-- KEYS[8] scheduler wake list  KEYS[9] the task's lane active set (its concurrency key's)
-- KEYS[10] its cluster's dispatched set
-- (KEYS[5] and ARGV[5] are the task's lane: its code, or its concurrency key's lane)
-- ARGV[1] task id  ARGV[2] attempt the caller saw  ARGV[3] now  ARGV[4] admission score
-- ARGV[5] lane id  ARGV[6] project id
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
redis.call('LPUSH', KEYS[8], '1')
redis.call('LTRIM', KEYS[8], 0, 99)
return 1
