-- Registers one connection as present and returns {online count, online client ids, their
-- names (false for none), in the same order}.
-- Publishes a join when it is the client's first live connection on any instance.
-- KEYS[1]: online set (client -> expiry)   KEYS[2]: the client's connections (conn -> expiry)
-- ARGV[1]: client id   ARGV[2]: connection key   ARGV[3]: TTL in ms
-- ARGV[4]: events pub/sub channel   ARGV[5]: most client ids to return
-- ARGV[6]: key prefix of a client's connections
-- ARGV[7]: the client's display name ('' for none; the newest connection's name is kept)
local now = now_ms()
prune(KEYS[1], ARGV[6], ARGV[4], now)
local expiry = now + tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local first = redis.call('ZCARD', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], expiry, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local names = names_of(KEYS[1])
if ARGV[7] ~= '' then
  redis.call('HSET', names, ARGV[1], ARGV[7])
  redis.call('PEXPIRE', names, ARGV[3])
else
  redis.call('HDEL', names, ARGV[1])
end
local count = redis.call('ZCARD', KEYS[1])
if first then
  redis.call('PUBLISH', ARGV[4], presence_event('j', ARGV[1], count, ARGV[7]))
end
local online = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)
local named = {}
if #online > 0 then
  named = redis.call('HMGET', names, unpack(online))
end
return {count, online, named}
