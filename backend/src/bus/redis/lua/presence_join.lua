-- Registers one connection as present and returns {online count, online client ids}.
-- Publishes a join when it is the client's first live connection on any instance.
-- KEYS[1]: online set (client -> expiry)   KEYS[2]: the client's connections (conn -> expiry)
-- ARGV[1]: client id   ARGV[2]: connection key   ARGV[3]: TTL in ms
-- ARGV[4]: events pub/sub channel   ARGV[5]: most client ids to return
-- ARGV[6]: key prefix of a client's connections
local now = now_ms()
prune(KEYS[1], ARGV[6], ARGV[4], now)
local expiry = now + tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local first = redis.call('ZCARD', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], expiry, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local count = redis.call('ZCARD', KEYS[1])
if first then
  redis.call('PUBLISH', ARGV[4], 'j\n' .. ARGV[1] .. '\n' .. count)
end
return {count, redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)}
