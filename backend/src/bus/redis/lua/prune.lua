-- Shared prelude of the presence scripts (prepended to each): removes client ids whose every
-- connection has expired (their instance died without cleaning up) and announces their
-- leave, so other members learn they are gone instead of seeing them online forever.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The hash of present clients' display names, beside the online set (same hash tag).
local function names_of(online)
  return (string.gsub(online, ':online$', ':names'))
end

-- A presence event's payload (see events.rs): 'j'/'l' without a name, as before names
-- existed; 'J'/'L' with the name as a last field.
local function presence_event(kind, client, count, name)
  if name and name ~= '' then
    return string.upper(kind) .. '\n' .. client .. '\n' .. count .. '\n' .. name
  end
  return kind .. '\n' .. client .. '\n' .. count
end

-- online: the online set; conns_prefix .. client: that client's connections.
local function prune(online, conns_prefix, events, now)
  for _, client in ipairs(redis.call('ZRANGEBYSCORE', online, '-inf', now)) do
    local conns = conns_prefix .. client
    redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
    local newest = redis.call('ZRANGE', conns, -1, -1, 'WITHSCORES')
    if newest[2] then
      redis.call('ZADD', online, newest[2], client)
    else
      redis.call('DEL', conns)
      redis.call('ZREM', online, client)
      local names = names_of(online)
      local name = redis.call('HGET', names, client)
      redis.call('HDEL', names, client)
      redis.call('PUBLISH', events,
        presence_event('l', client, redis.call('ZCARD', online), name))
    end
  end
end
