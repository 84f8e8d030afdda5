-- batch_settle.lua: move a batch from one status to another, once.
-- KEYS[1] batch        the batch's hash
-- KEYS[2] expiring     the expiring zset
-- ARGV[1] expected     the status it must be in ('*' = any unfinished: running or reducing)
-- ARGV[2] status       the new status
-- ARGV[3] expires_at   when its retention ends ('' = it has not ended)
-- ARGV[4] member       its member in expiring
-- ARGV[5...] fields    field, value pairs to set with it
-- Returns 1 when moved, 0 when the batch was not in the expected status (another scheduler,
-- a replayed event or a cancel got there first).
local status = redis.call('HGET', KEYS[1], 'status')
if ARGV[1] == '*' then
  if status ~= 'running' and status ~= 'reducing' then return 0 end
elseif status ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
