-- Who is in a channel now, changing nothing (for the server API): {online count, online
-- client ids, their names (false for none), in the same order}. Entries past their expiry
-- are not counted, though only the presence scripts that write remove them.
-- KEYS[1]: online set   ARGV[1]: most client ids to return
local now = now_ms()
local count = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local online = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'LIMIT', 0, ARGV[1])
local named = {}
if #online > 0 then
  named = redis.call('HMGET', names_of(KEYS[1]), unpack(online))
end
return {count, online, named}
