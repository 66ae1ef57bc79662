-- Removes one connection; publishes a leave when the client has no live connection left.
-- KEYS[1]: online set   KEYS[2]: the client's connections
-- ARGV[1]: client id   ARGV[2]: connection key   ARGV[3]: events pub/sub channel
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) > 0 then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PUBLISH', ARGV[3], 'l\n' .. ARGV[1] .. '\n' .. redis.call('ZCARD', KEYS[1]))
return 1
