-- The next page of a replay: up to ARGV[2] entries after ARGV[1], oldest first; nil when
-- entries right after ARGV[1] are gone (trimmed since the replay began, or the whole history
-- was lost and created again: another epoch): going on would leave a gap.
-- KEYS[1]: the channel's log stream
-- ARGV[1]: the last id replayed   ARGV[2]: page size
-- ARGV[3]: the epoch of the history the replay began in
if epoch_of(KEYS[1]) ~= ARGV[3] then
  return false
end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local trimmed
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then trimmed = info[i + 1] end
end
if trimmed == nil then
  return false
end
local am, as = parse(ARGV[1])
local tm, ts = parse(trimmed)
if am < tm or (am == tm and as < ts) then
  return false
end
return redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
