-- hand_back.lua: a runner that is stopping gives a running task back to admission.
-- KEYS[1] task hash  KEYS[2] project 'running' index  KEYS[3] project 'queued' index
-- KEYS[4] project active set  KEYS[5] code active set  KEYS[6] leases zset
-- KEYS[7] lane waiting zset  KEYS[8] project waiting-lanes set  KEYS[9] ready-projects set
-- KEYS[10] events stream  KEYS[11] scheduler wake list
-- KEYS[12] the task's lane active set; KEYS[7] and ARGV[4] are its lane (its code's, or its
-- concurrency key's)
-- ARGV[1] task id  ARGV[2] attempt the runner holds  ARGV[3] admission score  ARGV[4] lane id
-- ARGV[5] project id  ARGV[6] msg  ARGV[7] code id
-- Returns 1 when handed back; 0 when the task is not running under that attempt any more.
-- Invariant: the task is queued again, its slot free, in one step; it is not a retry (the
-- retry count is untouched) and the next admission gives it a new attempt, so anything the
-- old attempt still writes is refused.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2] then
  return 0
end
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
redis.call('XADD', KEYS[10], 'MAXLEN', '~', 1000000, '*', 'task_id', ARGV[1],
           'project_id', ARGV[5], 'code_id', ARGV[7], 'status', 'queued', 'attempt', ARGV[2])
redis.call('LPUSH', KEYS[11], '1')
redis.call('LTRIM', KEYS[11], 0, 99)
return 1
