-- take.lua: a runner has taken an admitted task's job from its queue and is about to start it.
-- From now until start.lua, the task is covered by the runner's lease, not the longer
-- dispatch lease: if the runner dies in between, the reaper hands the task back as soon as
-- that lease runs out.
-- KEYS[1] task         the task's hash
-- KEYS[2] leases       the leases zset
-- ARGV[1] task_id
-- ARGV[2] attempt
-- ARGV[3] runner       the runner's id
-- ARGV[4] until        the lease expiry (epoch s)
-- Returns 1 when taken; 0 when the task is no longer queued under this attempt with a lease
-- (cancelled, or handed back meanwhile): its start will be refused too.
if redis.call('HGET', KEYS[1], 'status') ~= 'queued'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2]
    or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'taken_by', ARGV[3])
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[1])
return 1
