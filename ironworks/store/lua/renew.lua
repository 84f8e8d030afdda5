-- renew.lua: a runner extends its lease on a task it is running.
-- KEYS[1] task         the task's hash
-- KEYS[2] leases       the leases zset
-- ARGV[1] task_id
-- ARGV[2] attempt
-- ARGV[3] until        the new lease expiry (epoch s)
-- Returns 1 when renewed; 0 when the task is no longer running under this attempt (cancelled,
-- or reaped after the lease ran out): the runner must stop the container and write nothing.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
