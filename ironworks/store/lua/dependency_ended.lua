-- dependency_ended.lua: one dependency of a waiting task completed, or failed with a retry
-- to follow (the task then waits on the retry instead).
-- KEYS[1] task             the task's hash
-- KEYS[2] waits_on         its waits-on set
-- KEYS[3] waiting          its lane's waiting zset
-- KEYS[4] waiting_lanes    the project's waiting-lanes set
-- KEYS[5] ready_projects   the ready-projects set
-- KEYS[6] wake             the scheduler's wake list
-- KEYS[7] retry_dependents the retry's dependents set (any key when there is no retry)
-- ARGV[1] task_id
-- ARGV[2] dependency_id
-- ARGV[3] score            the task's admission score
-- ARGV[4] lane
-- ARGV[5] project_id
-- ARGV[6] retry_id         the retry's id, '' when the dependency completed
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
wake(KEYS[6])
return 1
