-- wait_on.lua: a new task that depends on others waits for them (run in the MULTI that
-- stores it, which left it off its wait queue).
-- KEYS[1] waits_on         the task's waits-on set
-- KEYS[2] waiting          its lane's waiting zset
-- KEYS[3] waiting_lanes    the project's waiting-lanes set
-- KEYS[4] ready_projects   the ready-projects set
-- KEYS[5...] dependencies  2 keys per dependency: its task hash, its dependents set
-- ARGV[1] task_id
-- ARGV[2] score            its admission score
-- ARGV[3] lane
-- ARGV[4] project_id
-- ARGV[5...] dependency_ids  the dependency ids, in the order of their keys
-- Returns how many dependencies are still to complete.
-- Invariant: a task with dependencies enters its wait queue once: here when none is pending,
-- else in dependency_ended.lua when the last pending one is removed. Every dependency lists
-- the task among its dependents (the links both ways), complete or not.
local n = #ARGV - 4
for i = 1, n do
  local dep = ARGV[4 + i]
  redis.call('SADD', KEYS[4 + 2 * i], ARGV[1])
  if redis.call('HGET', KEYS[3 + 2 * i], 'status') ~= 'complete' then
    redis.call('SADD', KEYS[1], dep)
  end
end
local pending = redis.call('SCARD', KEYS[1])
if pending == 0 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[4])
end
return pending
