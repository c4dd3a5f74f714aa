--[[
  Applies a batch of writes atomically, but only while the caller still holds the fencing epoch.
  A master that was deposed (another one bumped the epoch) gets an error and writes nothing.

  Input:
    KEYS[1]      the epoch key
    KEYS[2..N]   every data key the batch touches (all share one hash tag, so Redis Cluster works)
    ARGV[1]      the caller's epoch
    ARGV[2..]    ops, four fields each: opcode, key index (into KEYS), a, b
                   HSET  key a=field b=value
                   HDEL  key a=field
                   LPUSHTRIM key a=value b=max length
                   SET   key a=value
                   DEL   key
  Output:
    the number of ops applied, or an error reply "FENCED <current epoch>"
]]
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return redis.error_reply('FENCED ' .. tostring(current))
end
local n = 0
for i = 2, #ARGV, 4 do
  local op = ARGV[i]
  local key = KEYS[tonumber(ARGV[i + 1])]
  local a = ARGV[i + 2]
  local b = ARGV[i + 3]
  if op == 'HSET' then
    redis.call('HSET', key, a, b)
  elseif op == 'HDEL' then
    redis.call('HDEL', key, a)
  elseif op == 'LPUSHTRIM' then
    redis.call('LPUSH', key, a)
    redis.call('LTRIM', key, 0, tonumber(b) - 1)
  elseif op == 'SET' then
    redis.call('SET', key, a)
  elseif op == 'DEL' then
    redis.call('DEL', key)
  else
    return redis.error_reply('unknown op ' .. tostring(op))
  end
  n = n + 1
end
return n
