-- batch_settle.lua: move a batch from one status to another, once.
-- KEYS[1] batch hash
-- ARGV[1] status it must be in ('*' = any unfinished: running or reducing)  ARGV[2] new status
-- then field, value pairs to set with it.
-- Returns 1 when moved, 0 when the batch was not in the expected status (another scheduler,
-- a replayed event or a cancel got there first).
local status = redis.call('HGET', KEYS[1], 'status')
if ARGV[1] == '*' then
  if status ~= 'running' and status ~= 'reducing' then return 0 end
elseif status ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
