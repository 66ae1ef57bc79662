-- The first page of what a joining client is replayed. Returns {recovered (0|1), entries
-- oldest first}.
-- KEYS[1]: the channel's log stream
-- ARGV[1]: since ('' when the client did not resume)   ARGV[2]: history limit
-- ARGV[3]: page size (the rest follows with history_after.lua)
-- Recovered (entries after since) when since is not newer than the newest id ever added and
-- not older than the newest id ever trimmed (Redis >= 7 tracks both). Otherwise the oldest of
-- the last ARGV[2] entries.
local function recent()
  local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])
  local page = {}
  for i = #newest, math.max(1, #newest - tonumber(ARGV[3]) + 1), -1 do
    page[#page + 1] = newest[i]
  end
  return {0, page}
end
if ARGV[1] == '' then
  return recent()
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- No stream: a client that has seen nothing (0-0) missed nothing; any other since was
  -- issued by a history that is gone.
  if ARGV[1] == '0-0' then
    return {1, {}}
  end
  return recent()
end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, trimmed
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
  if info[i] == 'max-deleted-entry-id' then trimmed = info[i + 1] end
end
if last == nil or trimmed == nil or less(last, ARGV[1]) or less(ARGV[1], trimmed) then
  return recent()
end
return {1, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[3])}
