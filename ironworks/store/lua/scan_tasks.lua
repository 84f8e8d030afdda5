-- scan_tasks.lua: the tasks in a slice of an index that match a filter, checked inside Redis
-- so that a filter no index answers costs one round trip per slice, not one per task.
-- KEYS[1] index        a sorted set of task ids by seq, walked newest first
-- ARGV[1] first        first position (ZREVRANGE's)
-- ARGV[2] last         last position
-- ARGV[3] statuses     comma-separated ('' = any)
-- ARGV[4] code_id      '' = any
-- ARGV[5] label        '' = any
-- ARGV[6] from_time    created at or after ('' = any)
-- ARGV[7] to_time      created at or before ('' = any)
-- Returns {number of ids read, matching id, matching id, ...}; fewer read than asked means
-- the index has no more.
local ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
local statuses = {}
for status in string.gmatch(ARGV[3], '[^,]+') do statuses[status] = true end
local any_status = ARGV[3] == ''
local from_time, to_time = tonumber(ARGV[6]), tonumber(ARGV[7])
local found = {#ids}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', task_key(id), 'status', 'code_id', 'label', 'created_at')
  local created = tonumber(f[4])
  if f[1] and (any_status or statuses[f[1]])
      and (ARGV[4] == '' or f[2] == ARGV[4])
      and (ARGV[5] == '' or f[3] == ARGV[5])
      and (not from_time or (created and created >= from_time))
      and (not to_time or (created and created <= to_time)) then
    found[#found + 1] = id
  end
end
return found
