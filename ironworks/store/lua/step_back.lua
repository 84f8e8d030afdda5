-- step_back.lua: a task that stepped aside to wait for its children takes its slots again.
-- KEYS[1] task             the task's hash
-- KEYS[2] project_active   the project's active set
-- KEYS[3] code_active      the code's active set
-- KEYS[4] lane_active      its lane's active set
-- ARGV[1] task_id
-- ARGV[2] attempt
-- Returns 1 when back; 0 when it was not aside under that attempt (or has ended).
-- It comes back even if its slot was taken meanwhile: the task never stopped running, so
-- the project may be over its limit until something ends, and admits nothing until then.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2]
    or redis.call('HGET', KEYS[1], 'aside') ~= '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'aside', '0')
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
