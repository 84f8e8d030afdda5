-- intake.lua: what queueing tasks first reads, in one round trip: the project a token is of
-- (when the API left that lookup to this read), the codes the tasks name, and seqs reserved
-- for them.
-- KEYS[1] code_names         the project's code-name hash
-- KEYS[2] task_seq           the task seq counter
-- KEYS[3] token              the presented token's key ('' for no lookup)
-- ARGV[1] seqs               how many seqs to reserve
-- ARGV[2...] names           the code names
-- Returns the first reserved seq, the token's project ('' for none or no lookup), then per
-- name its code's hash as a flat list (empty when the project has no code of that name).

local found = {redis.call('INCRBY', KEYS[2], ARGV[1]) - tonumber(ARGV[1]) + 1, ''}
if KEYS[3] ~= '' then found[2] = redis.call('GET', KEYS[3]) or '' end
for i = 2, #ARGV do
  local code_id = redis.call('HGET', KEYS[1], ARGV[i])
  found[i + 1] = code_id and redis.call('HGETALL', code_key(code_id)) or {}
end
return found
