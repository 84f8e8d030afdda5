-- dependency_ended.lua: one dependency of a waiting task completed, or failed with a retry
-- to follow (the task then waits on the retry instead).
-- KEYS[1] the task's hash  KEYS[2] its waits-on set  KEYS[3] lane waiting zset
-- KEYS[4] project waiting-lanes set  KEYS[5] ready-projects set  KEYS[6] scheduler wake list
-- KEYS[7] the retry's dependents set (any key when there is no retry)
-- ARGV[1] task id  ARGV[2] dependency id  ARGV[3] admission score  ARGV[4] lane id
-- ARGV[5] project id  ARGV[6] the retry's id, '' when the dependency completed
-- Returns 1 when the task went onto its wait queue, else 0.
-- Invariant: SREM is the gate, so a replayed event changes nothing; a task enters its wait
-- queue once (when its last pending dependency goes), and only while it is still queued.
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then return 0 end
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[6])
  redis.call('SADD', KEYS[7], ARGV[1])
  return 0
end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('SADD', KEYS[5], ARGV[5])
redis.call('LPUSH', KEYS[6], '1')
redis.call('LTRIM', KEYS[6], 0, 99)
return 1
