-- scan_tasks.lua: the tasks in a slice of an index that match a filter, checked inside Redis
-- so that a filter no index answers costs one round trip per slice, not one per task.
-- KEYS[1] the index (a sorted set of task ids by seq), walked newest first
-- ARGV[1] first position  ARGV[2] last position (ZREVRANGE's)  ARGV[3] task key prefix
-- ARGV[4] statuses, comma-separated ('' = any)  ARGV[5] code id ('' = any)
-- ARGV[6] label ('' = any)  ARGV[7] created at or after ('' = any)
-- ARGV[8] created at or before ('' = any)
-- Returns {number of ids read, matching id, matching id, ...}; fewer read than asked means
-- the index has no more.
local ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
local statuses = {}
for status in string.gmatch(ARGV[4], '[^,]+') do statuses[status] = true end
local any_status = ARGV[4] == ''
local from_time, to_time = tonumber(ARGV[7]), tonumber(ARGV[8])
local found = {#ids}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[3] .. id, 'status', 'code_id', 'label', 'created_at')
  local created = tonumber(f[4])
  if f[1] and (any_status or statuses[f[1]])
      and (ARGV[5] == '' or f[2] == ARGV[5])
      and (ARGV[6] == '' or f[3] == ARGV[6])
      and (not from_time or (created and created >= from_time))
      and (not to_time or (created and created <= to_time)) then
    found[#found + 1] = id
  end
end
return found
