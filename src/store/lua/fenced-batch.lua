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
    the number of ops applied, or an error reply "FENCED <current epoch>", or "WRONGTYPE …" when
    a key holds another type than its ops need (written by something else): a Lua script is not
    rolled back when a command in it fails, so every key is checked before anything is written.
]]
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return redis.error_reply('FENCED ' .. tostring(current))
end
local KIND = { HSET = 'hash', HDEL = 'hash', LPUSHTRIM = 'list', SET = 'string', DEL = 'any' }
local want = {}
for i = 2, #ARGV, 4 do
  local kind = KIND[ARGV[i]]
  if kind == nil then
    return redis.error_reply('unknown op ' .. tostring(ARGV[i]))
  end
  if kind ~= 'any' then
    want[tonumber(ARGV[i + 1])] = kind
  end
end
for index, kind in pairs(want) do
  local actual = redis.call('TYPE', KEYS[index])['ok']
  if actual ~= 'none' and actual ~= kind then
    return redis.error_reply('WRONGTYPE ' .. KEYS[index] .. ' holds a ' .. actual .. ', not a ' .. kind .. '; nothing of this batch was written')
  end
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
  end
  n = n + 1
end
return n
