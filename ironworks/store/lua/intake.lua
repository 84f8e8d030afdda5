-- intake.lua: what queueing tasks first reads, in one round trip: the codes they name, and
-- seqs reserved for them.
-- KEYS[1] code_names         the project's code-name hash
-- KEYS[2] task_seq           the task seq counter
-- ARGV[1] seqs               how many seqs to reserve
-- ARGV[2...] names           the code names
-- Returns the first reserved seq, then per name its code's hash as a flat list (empty when
-- the project has no code of that name).

local found = {redis.call('INCRBY', KEYS[2], ARGV[1]) - tonumber(ARGV[1]) + 1}
for i = 2, #ARGV do
  local code_id = redis.call('HGET', KEYS[1], ARGV[i])
  found[i] = code_id and redis.call('HGETALL', code_key(code_id)) or {}
end
return found
