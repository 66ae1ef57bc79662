-- The first page of what a joining client is replayed. Returns {epoch, recovered (0|1),
-- entries oldest first}; the rest follows page by page with history_after.lua.
-- KEYS[1]: the channel's log stream
-- ARGV[1]: since ('' when the client did not resume)   ARGV[2]: history limit
-- ARGV[3]: the epoch the client resumes from ('' when it sent none)
-- ARGV[4]: the epoch to give the history if it has none yet
-- ARGV[5]: how long the channel is kept from now, in ms
-- ARGV[6]: page size
-- Recovered (entries after since) by the rule of `bus::epoch::recoverable`: the epoch is the
-- history's (or, without one, since is an entry of it), and since is not newer than the
-- newest id ever added, not older than the newest id ever trimmed (Redis >= 7 tracks both)
-- and, unless it is that trimmed id, still in the stream.
-- Otherwise the oldest of the last ARGV[2] entries.
local epoch = ensure_epoch(KEYS[1], ARGV[4], ARGV[5])
local since, claimed = ARGV[1], ARGV[3]
local function recent()
  local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])
  local page = {}
  for i = #newest, math.max(1, #newest - tonumber(ARGV[6]) + 1), -1 do
    page[#page + 1] = newest[i]
  end
  return {epoch, 0, page}
end
if since == '' then
  return recent()
end
if claimed ~= '' and claimed ~= epoch then
  return recent()
end
if claimed == '' and since == '0-0' then
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
if last == nil or trimmed == nil or less(last, since) or less(since, trimmed) then
  return recent()
end
if since ~= trimmed and #redis.call('XRANGE', KEYS[1], since, since) == 0 then
  return recent()
end
return {epoch, 1, redis.call('XRANGE', KEYS[1], '(' .. since, '+', 'COUNT', ARGV[6])}
