-- hand_back.lua: a runner that is stopping gives a running task back to admission.
-- KEYS[1] task             the task's hash
-- KEYS[2] running_index    the project's 'running' index
-- KEYS[3] queued_index     the project's 'queued' index
-- KEYS[4] project_active   the project's active set
-- KEYS[5] code_active      the code's active set
-- KEYS[6] leases           the leases zset
-- KEYS[7] waiting          its lane's waiting zset (its code's, or its concurrency key's)
-- KEYS[8] waiting_lanes    the project's waiting-lanes set
-- KEYS[9] ready_projects   the ready-projects set
-- KEYS[10] events          the events stream
-- KEYS[11] wake            the scheduler's wake list
-- KEYS[12] lane_active     its lane's active set
-- ARGV[1] task_id
-- ARGV[2] attempt          the attempt the runner holds
-- ARGV[3] score            its admission score
-- ARGV[4] lane
-- ARGV[5] project_id
-- ARGV[6] msg
-- Returns 1 when handed back; 0 when the task is not running under that attempt any more.
-- Invariant: the task is queued again, its slot free, in one step; it is not a retry (the
-- retry count is untouched) and the next admission gives it a new attempt, so anything the
-- old attempt still writes is refused.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2] then
  return 0
end
check_move('running', 'queued')
redis.call('HSET', KEYS[1], 'status', 'queued', 'msg', ARGV[6], 'start_time', '', 'runner', '')
local seq = redis.call('HGET', KEYS[1], 'seq')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[12], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[8], ARGV[4])
redis.call('SADD', KEYS[9], ARGV[5])
announce(KEYS[10], ARGV[1], 'queued')
wake(KEYS[11])
return 1
