--[[
  Extends the leader lease, only while the caller still holds both the lease and the fencing
  epoch it was granted. A lease that vanished (it expired while Redis was down and came back from
  its AOF) is re-created when the epoch proves nobody else was elected in between.

  Input:
    KEYS[1]  the lease hash {token, address, epoch, since}
    KEYS[2]  the fencing epoch
    ARGV[1]  the holder's token
    ARGV[2]  lease length in ms
    ARGV[3]  the fencing epoch the holder was granted
    ARGV[4]  the holder's advertised address (host:port)
  Output:
    1  renewed: the caller leads for another ARGV[2] ms
    0  lost: another master holds the lease or the epoch moved on; the caller must step down
]]
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
local holder = redis.call('HGET', KEYS[1], 'token')
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
local t = redis.call('TIME')
local since = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'address', ARGV[4], 'epoch', ARGV[3], 'since', since)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
