-- add_tasks.lua: store new tasks' records and their indexes, count them queued for their
-- codes' stats, announce those in batches on the events stream (the batches consumer is the
-- only one to act on a queued event: every other task's would be read six times for
-- nothing) and wake the scheduler. One argument for
-- it all: Redis unpacks it, where redis-py would encode every field and send a command per
-- index. Atomic by itself: a request's tasks need no MULTI around it.
-- With task_seq given it is a request's one round trip (queueing.Queueing.enqueue_checked):
-- it checks first, writing nothing if a check fails, that the token is of the project and
-- that the codes the tasks were made from are unchanged since the API read them, then
-- reserves the tasks' seqs.
-- KEYS[1] events             the events stream
-- KEYS[2] wake               the scheduler's wake list
-- KEYS[3] task_seq           the task seq counter ('': the seqs sent are the tasks' own)
-- KEYS[4] token              the presented token's key ('' for no lookup)
-- KEYS[5] code_names         the project's code-name hash ('' for no code to check)
-- ARGV[1] tasks              JSON: {shared: the fields and values all the records share,
--                            tasks: per task [its id, the rest of its record, its code's
--                            stats hash, its code's stats-seen hash, its seq, whether to
--                            announce it (true for a batch's task)], zadd: per
--                            sorted set [its key, score, member, score, member...], zadd_seq:
--                            the same for scores made from the seqs sent (each moved as its
--                            seq is), sadd: per set [its key, member...], children: per
--                            parent queued from inside [its task key, how many]} (records
--                            flat, every value and score a string)
-- ARGV[2] status             'queued'
-- ARGV[3] rank               its rank (model.TaskStatus.rank)
-- ARGV[4] project_id         the project the token must be of (with a token)
-- ARGV[5] codes              JSON: the codes to find unchanged, each [name, id, digest]
-- Returns {'stored', what was added to each seq sent (0 without task_seq)}; or, having
-- written nothing, {'token', the token's project or ''} or {'stale', ''} (a code has changed
-- or gone).

local SLICE = 2000 -- values per ZADD or SADD: well under what unpack() can pass

-- A code's hash as one string, its values joined by NULs after their count, then SHA-1
-- (intake.code_digest's twin).
local function digest(flat)
  return redis.sha1hex(#flat .. '\0' .. table.concat(flat, '\0'))
end

if KEYS[4] ~= '' then
  local owner = redis.call('GET', KEYS[4]) or ''
  if owner ~= ARGV[4] then return {'token', owner} end
end
if KEYS[5] ~= '' then
  for _, code in ipairs(cjson.decode(ARGV[5])) do
    if redis.call('HGET', KEYS[5], code[1]) ~= code[2]
        or digest(redis.call('HGETALL', code_key(code[2]))) ~= code[3] then
      return {'stale', ''}
    end
  end
end
local new = cjson.decode(ARGV[1])
local offset = 0
if KEYS[3] ~= '' then
  -- the seqs sent are 1..n: the ones reserved are those plus what the counter held
  offset = redis.call('INCRBY', KEYS[3], #new.tasks) - #new.tasks
end
for _, task in ipairs(new.tasks) do
  local key, fields = task_key(task[1]), task[2]
  table.insert(fields, 'seq')
  table.insert(fields, tonumber(task[5]) + offset)
  if #new.shared > 0 then redis.call('HSET', key, unpack(new.shared)) end
  redis.call('HSET', key, unpack(fields))
  count_status(task[3], task[4], task[1], ARGV[2], ARGV[3])
  if task[6] then announce(KEYS[1], task[1], ARGV[2]) end
end
for _, list in ipairs(new.zadd_seq) do
  for i = 2, #list, 2 do list[i] = tonumber(list[i]) + offset end
end
for _, indexes in ipairs({{'ZADD', new.zadd}, {'ZADD', new.zadd_seq}, {'SADD', new.sadd}}) do
  for _, list in ipairs(indexes[2]) do
    for i = 2, #list, SLICE do
      redis.call(indexes[1], list[1], unpack(list, i, math.min(i + SLICE - 1, #list)))
    end
  end
end
for _, parent in ipairs(new.children) do
  redis.call('HINCRBY', parent[1], 'children', parent[2])
end
wake(KEYS[2])
return {'stored', offset}
