-- start.lua: a runner takes an admitted task and marks it running.
-- KEYS[1] task             the task's hash
-- KEYS[2] queued_index     the project's 'queued' index
-- KEYS[3] running_index    the project's 'running' index
-- KEYS[4] events           the events stream
-- KEYS[5] leases           the leases zset
-- KEYS[6] dispatched       the cluster's dispatched set
-- KEYS[7] wake             the scheduler's wake list (a task leaving the dispatched set makes
--                          room to admit another)
-- ARGV[1] task_id
-- ARGV[2] attempt
-- ARGV[3] now              epoch s
-- ARGV[4] runner           the runner's id
-- ARGV[5] until            the lease expiry (epoch s): the runner must renew before then or
--                          lose the task
-- ARGV[6] claim            this start's own token: the same start sent again, after Redis lost
--                          its reply (a failover), is answered 1 by the start it repeats
-- Returns 1 when started, or already started under this claim; 0 when the task is no longer
-- queued, the attempt is not the current one (cancelled meanwhile, or a stale duplicate
-- dispatch), or the attempt has no lease any more (the reaper handed it back to admission,
-- which has not re-admitted it yet): the runner must not run it.
local current = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'claim')
if current[1] == 'running' and current[2] == ARGV[2] and current[3] == ARGV[6] then
  return 1
end
if current[1] ~= 'queued'
    or current[2] ~= ARGV[2]
    or not redis.call('ZSCORE', KEYS[5], ARGV[1]) then
  return 0
end
check_move('queued', 'running')
redis.call('HSET', KEYS[1], 'status', 'running', 'start_time', ARGV[3], 'runner', ARGV[4],
           'claim', ARGV[6])
local seq = redis.call('HGET', KEYS[1], 'seq')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1])
if redis.call('SREM', KEYS[6], ARGV[1]) == 1 then
  wake(KEYS[7])
end
announce(KEYS[4], ARGV[1], 'running')
return 1
