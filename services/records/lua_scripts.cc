#include "records/lua_scripts.h"

#include "absl/strings/str_cat.h"
#include "common/events.h"
#include "common/request_id.h"
#include "common/slot_check.h"

namespace govreport::records {

namespace {

// The Lua texts, kept apart from the functions that load them: they are Lua, not
// C++ (readability-function-size would count them as function lines).
// The listing indexes' helpers, shared by the write and the legacy
// indexing scripts.
constexpr char kListingLua[] = R"lua(
-- A protobuf varint; Lua numbers are doubles, exact below 2^53.
local function varint(n)
  local out = ''
  while n >= 128 do
    out = out .. string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  return out .. string.char(n)
end

-- The stored record carries its sequences: fields appended to a serialized
-- message override earlier values (ActivityRecord.create_sequence = 18,
-- change_sequence = 19, varints).
local function with_sequences(blob, cseq, dv)
  return blob .. '\144\1' .. varint(cseq) .. '\152\1' .. varint(dv)
end

-- The member of the previous version's date index (acts:d:t): yyyymmdd,
-- creation sequence, id; removed from there until the org is migrated.
local function by_date(d, cseq, id)
  return string.gsub(d, '-', '') .. ':' .. string.format('%015d', cseq) .. ':' .. id
end

-- The score of the date index: the day (year * 512 + month * 32 + day) times
-- 2^30 plus the creation sequence, so the order is by date, then creation
-- (store.h, DateScore: the same number).
local function date_score(d, cseq)
  local y, m, day = tonumber(string.sub(d, 1, 4)), tonumber(string.sub(d, 6, 7)), tonumber(string.sub(d, 9, 10))
  return ((y * 16 + m) * 32 + day) * 1073741824 + cseq
end

-- A listing index is a sorted set cut into buckets of at most 128 entries,
-- which Redis keeps as listpacks (zset-max-listpack-entries, 128 by
-- default): about 30 bytes an entry instead of about 110 in one large set.
-- The directory `dir` is a sorted set of the buckets' names by their lowest
-- score, the name being that score; bucket `name` is the key dir:name.
-- Scores are integers below 2^53, unique in an index.
local kBucketMax = 128
local function score_text(s) return string.format('%.0f', s) end

-- The bucket holding `score`: the one with the greatest lowest score not
-- above it (nil: below every bucket, or none yet).
local function bucket_of(dir, score)
  return redis.call('ZREVRANGEBYSCORE', dir, score_text(score), '-inf', 'LIMIT', 0, 1)[1]
end

-- The name of the bucket that a bucket of kBucketMax entries splits off once
-- `score` is added to it: the score at rank kBucketMax/2 of the whole.
local function split_name(key, score)
  local r = redis.call('ZRANGE', key, kBucketMax / 2 - 1, kBucketMax / 2, 'WITHSCORES')
  local below, at = tonumber(r[2]), tonumber(r[4])
  if score < below then return score_text(below) end
  if score < at then return score_text(score) end
  return score_text(at)
end

-- Every key bucket_add(dir, score) or bucket_remove(dir, score) may touch,
-- for slot_unsettled; `dir` itself must have been looked at already.
local function bucket_keys(dir, score, keys)
  local name = bucket_of(dir, score) or redis.call('ZRANGE', dir, 0, 0)[1]
  keys[#keys + 1] = dir .. ':' .. score_text(score)
  if name then
    local key = dir .. ':' .. name
    keys[#keys + 1] = key
    if redis.call('ZCARD', key) + 1 >= kBucketMax then
      keys[#keys + 1] = dir .. ':' .. split_name(key, score)
    end
  end
end

local function bucket_add(dir, score, member)
  local name = bucket_of(dir, score)
  if not name then
    -- Below every bucket: the first one's lowest score moves down to it
    -- (a new bucket each time would hold one entry each when older records
    -- come in newest first).
    name = score_text(score)
    local first = redis.call('ZRANGE', dir, 0, 0)[1]
    if first then
      redis.call('RENAME', dir .. ':' .. first, dir .. ':' .. name)
      redis.call('ZREM', dir, first)
    end
    redis.call('ZADD', dir, name, name)
  end
  local key = dir .. ':' .. name
  redis.call('ZADD', key, score_text(score), member)
  if redis.call('ZCARD', key) < kBucketMax then return end
  -- Full: the upper half becomes a bucket of its own.
  local upper = redis.call('ZRANGE', key, kBucketMax / 2, -1, 'WITHSCORES')
  local lowest = score_text(tonumber(upper[2]))
  local args = {}
  for i = 1, #upper, 2 do
    args[#args + 1] = upper[i + 1]
    args[#args + 1] = upper[i]
  end
  redis.call('ZADD', dir .. ':' .. lowest, unpack(args))
  redis.call('ZREMRANGEBYRANK', key, kBucketMax / 2, -1)
  redis.call('ZADD', dir, lowest, lowest)
end

local function bucket_remove(dir, score, member)
  local name = bucket_of(dir, score)
  if not name then return end
  local key = dir .. ':' .. name
  if redis.call('ZREM', key, member) == 1 and redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', dir, name)
  end
end

-- The org's listing indexes, per type: ix:c:{t} by creation sequence (a
-- record never moves) and ix:d:{t} by date_score (moves with the date);
-- ix:u by change sequence over all types (every change moves it to the end).
-- The orders over all types merge the per-type indexes of `types`
-- (Store::ListIndex).
local function index_record(P, id, c, cseq, dv, keep_place)
  if not keep_place then
    redis.call('SADD', P .. 'types', c.t)
    bucket_add(P .. 'ix:c:' .. c.t, cseq, id)
    bucket_add(P .. 'ix:d:' .. c.t, date_score(c.d, cseq), id)
  end
  bucket_add(P .. 'ix:u', dv, id)
end
)lua";

constexpr char kIndexLegacyLua[] = R"lua(
-- KEYS: 1 the org's data version. ARGV: 1 how many records at most.
-- Records stored by an earlier version are in acts (by date) and not in
-- the listing indexes: each gets a creation sequence (oldest date first)
-- and a change sequence (a data version of its own), both stored in the
-- record, and leaves acts and acts:t:{type}. Returns how many it took from
-- acts (fewer than asked: none are left).
local P = string.sub(KEYS[1], 1, -3)
local ids = redis.call('ZRANGE', P .. 'acts', 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do
  local rkey = P .. 'a:' .. id
  local h = {}
  if redis.call('TYPE', rkey).ok == 'hash' then h = redis.call('HMGET', rkey, 'd', 'c', 's') end
  redis.call('ZREM', P .. 'acts', id)
  if h[1] and h[2] and not h[3] then
    local c = cjson.decode(h[2])
    redis.call('ZREM', P .. 'acts:t:' .. c.t, id)
    local cseq = redis.call('INCR', P .. 'seq')
    local dv = redis.call('INCR', KEYS[1])
    index_record(P, id, c, cseq, dv)
    redis.call('HSET', rkey, 'd', with_sequences(h[1], cseq, dv), 's', cseq)
  end
end
return #ids
)lua";

constexpr char kWriteActivityLua[] = R"lua(
-- KEYS: 1 the org's data version, 2 the request id's key, 3 the org's
--       event log (all in the org's slot).
-- ARGV: op, id, fingerprint ('' = no request id), ext_field, content_hash,
--       expected_rev, record_blob, contribution_json, request_ttl_seconds,
--       quota_day (YYYYMMDD, '' = not counted), quota_records, quota_bytes
--       (0 = no limit), max_persons_per_year (0 = no limit),
--       event_head ('' = no event), event_kind, event_rest, event_min_id,
--       read_blob, read_contribution, read_create_sequence, read_revision
--       (an amendment's or a void's: the record as the caller read it),
--       on_cluster ('1': look at every key before the first write),
--       read_change_sequence (the record's as read)
-- Returns {'OK', id, revision, change_sequence, create_sequence} or
-- another outcome ({'GONE', id}: the record is no longer the one read). A repeat answers {'REPLAYED', 'id@revision'} before
-- anything else. The quota and the persons cap are checked before anything
-- is written, so a refused write changes nothing; the event is appended
-- only by a write that stored something (common/events.h).
local P = string.sub(KEYS[1], 1, -3)
local op, id, fp, ext, chash = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local expected, blob, contrib, ttl = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local qday, qrecords, qbytes = ARGV[10] or '', tonumber(ARGV[11] or '0'), tonumber(ARGV[12] or '0')
local max_persons = tonumber(ARGV[13] or '0')
local ev_head, ev_kind, ev_rest, ev_min = ARGV[14] or '', ARGV[15], ARGV[16] or '', ARGV[17]
-- An amendment's or a void's view of the record it changes: the stored
-- value as the caller read it, its contribution and its creation sequence
-- (the record holds no copy of them).
local read_blob, read_contrib, read_cseq = ARGV[18] or '', ARGV[19] or '', ARGV[20] or ''
local read_rev = ARGV[21] or ''
local on_cluster = ARGV[22] == '1'
local read_dv = tonumber(ARGV[23] or '0') or 0

local prior = request_prior(KEYS[2], fp)
if prior then return prior end

-- The year and the month: halves and quarters are read as their months
-- (period.h), so a write updates two buckets.
local function buckets(d)
  return {string.sub(d, 1, 4), string.sub(d, 1, 7)}
end

-- The record's dimension values as "dim=value", in dimension order, and
-- every non-empty combination of them joined by '&' (at most 4 dimensions:
-- 15). Each combination is a suffix of the type's counters, so a filter
-- and a breakdown that meet on one record read one field (docs/records.md,
-- "Dimensions"). Earlier contributions have no x: no combination.
local function combinations(c)
  local parts = {}
  for k, v in pairs(c.x or {}) do parts[#parts + 1] = k .. '=' .. v end
  table.sort(parts)
  local out = {}
  for mask = 1, 2 ^ #parts - 1 do
    local pick = {}
    for i = 1, #parts do
      if math.floor(mask / 2 ^ (i - 1)) % 2 == 1 then pick[#pick + 1] = parts[i] end
    end
    out[#out + 1] = table.concat(pick, '&')
  end
  return parts, out
end

-- Adds (sign 1) or removes (sign -1) one record's contribution.
local function apply(c, sign)
  if c.v == 1 then return end
  local _, combos = combinations(c)
  for _, b in ipairs(buckets(c.d)) do
    local k = P .. 'agg:' .. b
    redis.call('HINCRBY', k, 'n|' .. c.t, sign)
    for _, x in ipairs(combos) do redis.call('HINCRBY', k, 'n|' .. c.t .. '|' .. x, sign) end
    for q, v in pairs(c.q) do
      -- k|: how many records state the quantity, so that a sum nobody
      -- stated reads as missing, not 0.
      local kq = 'k|' .. c.t .. '|' .. q
      local sq = 'q|' .. c.t .. '|' .. q
      local dv = (sign < 0) and ('-' .. v) or v
      redis.call('HINCRBY', k, kq, sign)
      for _, x in ipairs(combos) do redis.call('HINCRBY', k, kq .. '|' .. x, sign) end
      if v ~= '0' then
        redis.call('HINCRBY', k, sq, dv)
        for _, x in ipairs(combos) do redis.call('HINCRBY', k, sq .. '|' .. x, dv) end
      end
    end
    -- The values present per dimension (reference-counted), for the rows
    -- of a breakdown over values the dimension does not list.
    for dim, v in pairs(c.x or {}) do
      local xk = P .. 'dx:' .. b .. ':' .. c.t .. ':' .. dim
      if redis.call('HINCRBY', xk, v, sign) <= 0 then redis.call('HDEL', xk, v) end
    end
    local dk = P .. 'dp:' .. b .. ':' .. c.t
    for _, person in ipairs(c.p) do
      if redis.call('HINCRBY', dk, person, sign) <= 0 then
        redis.call('HDEL', dk, person)
      end
    end
  end
  local month = string.sub(c.d, 1, 7)
  local score = tonumber((string.gsub(c.d, '-', '')))
  -- The latest-value index is the provenance too (docs/records.md).
  if sign > 0 then
    redis.call('ZADD', P .. 'lt:' .. month .. ':' .. c.t, score, id)
  else
    redis.call('ZREM', P .. 'lt:' .. month .. ':' .. c.t, id)
  end
end

local rkey = P .. 'a:' .. id
local new = cjson.decode(contrib)
local old = nil
local rev
local kind, stored
if op == 'create' then
  if ext ~= '' then
    local prev = redis.call('HGET', P .. 'ext', ext)
    if prev then
      local sep = string.find(prev, '|', 1, true)
      local pid = string.sub(prev, 1, sep - 1)
      if string.sub(prev, sep + 1) == chash then return {'DUP_EXT', pid} end
      return {'CONFLICT_EXT', pid}
    end
  end
  if redis.call('EXISTS', rkey) == 1 then return {'EXISTS', id} end
  rev = 1
else
  -- The record is one string (docs/records.md, "Storage"); an earlier
  -- version's hash {d, r, c, s} becomes one on its first change. The
  -- caller's view holds only while the stored record is the one it read
  -- (GONE: read it again); its revision is then the expected one.
  kind = redis.call('TYPE', rkey).ok
  if kind == 'none' then return {'NOTFOUND', id} end
  stored = (kind == 'hash') and redis.call('HGET', rkey, 'd') or redis.call('GET', rkey)
  if stored ~= read_blob then return {'GONE', id} end
  if read_rev ~= expected then return {'STALE', read_rev} end
  old = cjson.decode(read_contrib)
  if old.v == 1 then return {'FINAL', id} end
  rev = tonumber(expected) + 1
end

-- The org's daily allowance: every write (create, amend, void) counts one
-- record and its stored bytes: the record, its copy in the history list,
-- and its aggregate data.
local qkey = P .. 'quota:' .. qday
local nbytes = 2 * #blob + #contrib
if qday ~= '' then
  local used = redis.call('HMGET', qkey, 'n', 'b')
  local n, b = tonumber(used[1] or '0'), tonumber(used[2] or '0')
  if qrecords > 0 and n + 1 > qrecords then return {'QUOTA', 'records_per_day', qrecords, n} end
  if qbytes > 0 and b + nbytes > qbytes then return {'QUOTA', 'bytes_per_day', qbytes, b} end
end

-- Distinct persons per activity type and calendar year: exact, counting
-- the persons the old revision frees in the same year and type. At most
-- 2 x persons-per-record lookups.
if max_persons > 0 and new.v ~= 1 and #new.p > 0 then
  local year = string.sub(new.d, 1, 4)
  local yk = P .. 'dp:' .. year .. ':' .. new.t
  local added, freed = 0, 0
  local in_new = {}
  for _, person in ipairs(new.p) do
    in_new[person] = true
    if redis.call('HEXISTS', yk, person) == 0 then added = added + 1 end
  end
  if old and old.v ~= 1 and old.t == new.t and string.sub(old.d, 1, 4) == year then
    for _, person in ipairs(old.p) do
      if not in_new[person] and redis.call('HGET', yk, person) == '1' then freed = freed + 1 end
    end
  end
  local have = redis.call('HLEN', yk)
  if added > 0 and have - freed + added > max_persons then
    return {'LIMIT', year, new.t, max_persons, have}
  end
end

-- The creation sequence a change keeps (none: stored by an earlier version
-- and not yet indexed, kIndexLegacyLua; it gets the next one).
local cseq
if op ~= 'create' then
  cseq = tonumber(read_cseq)
  if kind == 'hash' then cseq = tonumber(redis.call('HGET', rkey, 's') or '') end
  if cseq == 0 then cseq = nil end
end
-- A change that keeps the type and the date keeps its place in the
-- creation and date indexes.
local keep_place = old ~= nil and cseq ~= nil and old.t == new.t and old.d == new.d

-- The listing indexes (kListingLua, docs/records.md "Listing"). Until the
-- org is migrated (kMigrateBucketsLua) an entry may still be in the
-- previous version's acts:c:t, acts:d:t or acts:u: a change removes it
-- from there too.
-- On a cluster, every key the writes below touch is looked at first
-- (slot_unsettled): while the org's slot migrates, a key that is elsewhere
-- (or not yet created) answers TRYAGAIN before anything is written; a
-- script stopped midway would leave half a write.
if on_cluster then
  local keys = {rkey, rkey .. ':h', P .. 'seq', P .. 'types', P .. 'acts:u', P .. 'ix:u'}
  if qday ~= '' then keys[#keys + 1] = qkey end
  if op == 'create' and ext ~= '' then keys[#keys + 1] = P .. 'ext' end
  for _, c in ipairs({old or {v = 1}, new}) do
    if c.t then
      keys[#keys + 1] = P .. 'acts:c:t:' .. c.t
      keys[#keys + 1] = P .. 'acts:d:t:' .. c.t
      keys[#keys + 1] = P .. 'acts:t:' .. c.t
      keys[#keys + 1] = P .. 'ix:c:' .. c.t
      keys[#keys + 1] = P .. 'ix:d:' .. c.t
    end
    if c.v ~= 1 then
      for _, b in ipairs(buckets(c.d)) do
        keys[#keys + 1] = P .. 'agg:' .. b
        keys[#keys + 1] = P .. 'dp:' .. b .. ':' .. c.t
        for dim, _ in pairs(c.x or {}) do
          keys[#keys + 1] = P .. 'dx:' .. b .. ':' .. c.t .. ':' .. dim
        end
      end
      keys[#keys + 1] = P .. 'lt:' .. string.sub(c.d, 1, 7) .. ':' .. c.t
    end
  end
  if old then keys[#keys + 1] = P .. 'acts' end
  local unsettled = slot_unsettled(keys)
  if unsettled then return unsettled end
  -- Then the buckets the sequences to be given fall in.
  local next_seq = cseq or tonumber(redis.call('GET', P .. 'seq') or '0') + 1
  local buckets_touched = {}
  bucket_keys(P .. 'ix:u', tonumber(redis.call('GET', KEYS[1]) or '0') + 1, buckets_touched)
  if old and read_dv > 0 then bucket_keys(P .. 'ix:u', read_dv, buckets_touched) end
  for _, c in ipairs({old or {}, new}) do
    if c.t then
      bucket_keys(P .. 'ix:c:' .. c.t, next_seq, buckets_touched)
      bucket_keys(P .. 'ix:d:' .. c.t, date_score(c.d, next_seq), buckets_touched)
    end
  end
  unsettled = slot_unsettled(buckets_touched)
  if unsettled then return unsettled end
end

local dv = redis.call('INCR', KEYS[1])
if op == 'create' then
  if ext ~= '' then redis.call('HSET', P .. 'ext', ext, id .. '|' .. chash) end
  cseq = redis.call('INCR', P .. 'seq')
else
  apply(old, -1)
  if not cseq then
    cseq = redis.call('INCR', P .. 'seq')
    redis.call('ZREM', P .. 'acts', id)
    redis.call('ZREM', P .. 'acts:t:' .. old.t, id)
  elseif not keep_place then
    redis.call('ZREM', P .. 'acts:c:t:' .. old.t, id)
    redis.call('ZREM', P .. 'acts:d:t:' .. old.t, by_date(old.d, cseq, id))
    bucket_remove(P .. 'ix:c:' .. old.t, cseq, id)
    bucket_remove(P .. 'ix:d:' .. old.t, date_score(old.d, cseq), id)
  end
  redis.call('ZREM', P .. 'acts:u', id)
  if read_dv > 0 then bucket_remove(P .. 'ix:u', read_dv, id) end
end
apply(new, 1)
index_record(P, id, new, cseq, dv, keep_place)
blob = with_sequences(blob, cseq, dv)
-- The history list is written from a record's first change on (then with
-- the revision it replaces first): a record never changed is its own
-- history, and most records never change (docs/records.md, "Storage").
if op ~= 'create' then
  local hkey = rkey .. ':h'
  if redis.call('EXISTS', hkey) == 0 then redis.call('RPUSH', hkey, stored) end
  redis.call('RPUSH', hkey, blob)
  if kind == 'hash' then redis.call('DEL', rkey) end
end
redis.call('SET', rkey, blob)
request_remember(KEYS[2], fp, id .. '@' .. rev, ttl)
if qday ~= '' then
  redis.call('HINCRBY', qkey, 'n', 1)
  redis.call('HINCRBY', qkey, 'b', nbytes)
  redis.call('EXPIRE', qkey, 172800)
end
-- The event: event_head is the Event without its payload. A create's or an
-- amendment's payload, ActivityChanged {1: the record as stored, with its
-- sequences; event_rest: its reason}, is put together here (Event field 10
-- activity_created, 11 activity_amended); a void's is in the head already.
if ev_head ~= '' then
  local event = ev_head
  if op ~= 'void' then
    local changed = '\10' .. varint(#blob) .. blob .. ev_rest
    event = event .. ((op == 'create') and '\82' or '\90') .. varint(#changed) .. changed
  end
  event_append(KEYS[3], ev_min, ev_kind, event)
end
return {'OK', id, rev, dv, cseq}
)lua";

constexpr char kProtobufLua[] = R"lua(
-- A varint at s[i]: its value (exact below 2^53) and the index after it.
local function pb_varint(s, i)
  local n, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    i = i + 1
    n = n + (b % 128) * mul
    if b < 128 then return n, i end
    mul = mul * 128
  end
end

-- A varint at s[i] as exact decimal text (any uint64), via base-1e7 limbs.
local function pb_decimal(s, i)
  local groups = {}
  repeat
    local b = string.byte(s, i)
    i = i + 1
    groups[#groups + 1] = b % 128
  until b < 128
  local limbs = {0}
  for g = #groups, 1, -1 do
    local carry = groups[g]
    for k = 1, #limbs do
      local x = limbs[k] * 128 + carry
      limbs[k] = x % 10000000
      carry = math.floor(x / 10000000)
    end
    if carry > 0 then limbs[#limbs + 1] = carry end
  end
  local out = string.format('%d', limbs[#limbs])
  for k = #limbs - 1, 1, -1 do out = out .. string.format('%07d', limbs[k]) end
  return out, i
end

-- Calls visit(field, start, length) for each length-delimited field of a
-- serialized message, in order; false when the bytes hold a wire type this
-- reader does not know (no message of ours).
local function pb_each_bytes(blob, visit)
  local i, n = 1, #blob
  while i <= n do
    local tag
    tag, i = pb_varint(blob, i)
    local wire = tag % 8
    if wire == 0 then
      local _
      _, i = pb_varint(blob, i)
    elseif wire == 1 then
      i = i + 8
    elseif wire == 5 then
      i = i + 4
    elseif wire == 2 then
      local len
      len, i = pb_varint(blob, i)
      visit(math.floor(tag / 8), i, len)
      i = i + len
    else
      return false
    end
  end
  return true
end

-- The quantity `name` of a stored ActivityRecord (map<string, int64>
-- quantities = 6; entries {1: key, 2: value}), nil when it has none.
local function quantity_of(blob, name)
  local found, known = nil, true
  local whole = pb_each_bytes(blob, function(field, i, len)
    if field ~= 6 then return end
    local entry = string.sub(blob, i, i + len - 1)
    local key, value, j = '', '0', 1
    while j <= #entry do
      local t
      t, j = pb_varint(entry, j)
      if t == 10 then
        local kl
        kl, j = pb_varint(entry, j)
        key = string.sub(entry, j, j + kl - 1)
        j = j + kl
      elseif t == 16 then
        value, j = pb_decimal(entry, j)
      else
        known = false
        return
      end
    end
    if key == name then found = value end
  end)
  if not whole or not known then return nil end
  return found
end

-- The string field `field` of a serialized message (the last one wins),
-- nil when absent.
local function pb_string(blob, field)
  local found = nil
  local whole = pb_each_bytes(blob, function(f, i, len)
    if f == field then found = string.sub(blob, i, i + len - 1) end
  end)
  if not whole then return nil end
  return found
end
)lua";

constexpr char kMigrateGlobalIndexesLua[] = R"lua(
-- KEYS: 1 the org's data version. ARGV: 1 how many records at most.
-- The previous version kept acts:c and acts:d over all types as well, and
-- no set of the types: each record of acts:c names its type in `types`
-- and leaves acts:c; acts:d goes once acts:c is empty. Returns how many it
-- took (fewer than asked: done).
local P = string.sub(KEYS[1], 1, -3)
local n = tonumber(ARGV[1])
local ids = redis.call('ZRANGE', P .. 'acts:c', 0, n - 1)
for _, id in ipairs(ids) do
  local rkey = P .. 'a:' .. id
  local kind = redis.call('TYPE', rkey).ok
  local t = nil
  if kind == 'hash' then
    t = cjson.decode(redis.call('HGET', rkey, 'c')).t
  elseif kind == 'string' then
    t = pb_string(redis.call('GET', rkey), 2)
  end
  if t then redis.call('SADD', P .. 'types', t) end
  redis.call('ZREM', P .. 'acts:c', id)
end
if #ids < n then redis.call('UNLINK', P .. 'acts:d') end
return #ids
)lua";

constexpr char kMigrateBucketsLua[] = R"lua(
-- KEYS: 1 the org's data version. ARGV: 1 how many entries at most.
-- The previous version kept each listing index as one sorted set
-- (acts:c:t:{t}, acts:d:t:{t} of "yyyymmdd:cseq:id", acts:u): their entries
-- move into the buckets (kListingLua), the lowest first. Returns how many it
-- moved (fewer than asked: done).
local P = string.sub(KEYS[1], 1, -3)
local n = tonumber(ARGV[1])
local moved = 0
local function take(key, each)
  if moved >= n then return end
  local part = redis.call('ZRANGE', key, 0, n - moved - 1, 'WITHSCORES')
  for i = 1, #part, 2 do each(part[i], tonumber(part[i + 1])) end
  if #part > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #part / 2 - 1) end
  moved = moved + #part / 2
end
for _, t in ipairs(redis.call('SMEMBERS', P .. 'types')) do
  take(P .. 'acts:c:t:' .. t, function(id, s) bucket_add(P .. 'ix:c:' .. t, s, id) end)
  take(P .. 'acts:d:t:' .. t, function(member)
    local y, m, d, cseq, id = string.match(member, '^(%d%d%d%d)(%d%d)(%d%d):(%d+):(.+)$')
    if id then bucket_add(P .. 'ix:d:' .. t, date_score(y .. '-' .. m .. '-' .. d, tonumber(cseq)), id) end
  end)
end
take(P .. 'acts:u', function(id, s) bucket_add(P .. 'ix:u', s, id) end)
return moved
)lua";

constexpr char kListIndexLua[] = R"lua(
-- KEYS: 1 the org's data version (for its slot).
-- ARGV: 1 the lowest score, 2 '1' when it is excluded, 3 the highest
--       score (included, or '+inf'), 4 how many entries per index at most,
--       5 '1' on a cluster, 6... the indexes (kListingLua), named without
--       the org's prefix.
-- Returns, per index, {member, score, ...} in the index's order.
local P = string.sub(KEYS[1], 1, -3)
local lo, hi, n = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[4])
local lo_arg = ((ARGV[2] == '1') and '(' or '') .. score_text(lo)
local on_cluster = ARGV[5] == '1'
local dirs = {}
for i = 6, #ARGV do dirs[#dirs + 1] = P .. ARGV[i] end
-- On a cluster each key is looked at before it is read: while the org's
-- slot migrates, one already moved is a TRYAGAIN, not a short listing.
if on_cluster and #dirs > 0 then
  local unsettled = slot_unsettled(dirs)
  if unsettled then return unsettled end
end
local out = {}
for i, dir in ipairs(dirs) do
  local got = {}
  local from = bucket_of(dir, lo)
  from = from and from or '-inf'
  while #got < 2 * n do
    local names = redis.call('ZRANGEBYSCORE', dir, from, hi, 'LIMIT', 0, 16)
    for _, name in ipairs(names) do
      local key = dir .. ':' .. name
      if on_cluster then
        local unsettled = slot_unsettled({key})
        if unsettled then return unsettled end
      end
      local part = redis.call('ZRANGEBYSCORE', key, lo_arg, hi, 'WITHSCORES', 'LIMIT', 0, n - #got / 2)
      for _, v in ipairs(part) do got[#got + 1] = v end
      from = '(' .. name
      if #got >= 2 * n then break end
    end
    if #names < 16 then break end
  end
  out[i] = got
end
return out
)lua";

constexpr char kReadFiguresLua[] = R"lua(
-- ARGV[1]: JSON {f: [[bucket, field]...], d: [[[buckets], [types]]...],
--                l: [[[months newest first], [types], quantity]...]}
-- ARGV[2]: how many person entries the unions below may read in all.
-- Returns {data_version, {field values}, {distinct counts},
--          {latest value, latest id, its type, ...}, person entries read}
-- A distinct count over one bucket and one type is the HLEN of its
-- reference-counted hash: O(1). A union (several buckets or types) is done
-- here only while it fits the budget; otherwise its count is -1 and the
-- caller unions the hashes outside Lua in bounded HSCAN steps.
local P = string.sub(KEYS[1], 1, -3)
local spec = cjson.decode(ARGV[1])
local budget = tonumber(ARGV[2] or '0')
local read = 0
-- ARGV[3] '1' (a cluster): every key read below is looked at first, in one
-- command, so that while the org's slot migrates a key still elsewhere is
-- an error the client retries, not a figure read as 0.
if ARGV[3] == '1' then
  local keys, seen = {KEYS[1]}, {}
  local function add(k)
    if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
  end
  for _, f in ipairs(spec.f) do add(P .. 'agg:' .. f[1]) end
  for _, d in ipairs(spec.d) do
    for _, b in ipairs(d[1]) do
      for _, t in ipairs(d[2]) do add(P .. 'dp:' .. b .. ':' .. t) end
    end
  end
  for _, l in ipairs(spec.l) do
    for _, m in ipairs(l[1]) do
      for _, t in ipairs(l[2]) do add(P .. 'lt:' .. m .. ':' .. t) end
    end
  end
  local unsettled = slot_unsettled(keys)
  if unsettled then return unsettled end
end
local fields = {}
for i, f in ipairs(spec.f) do
  fields[i] = redis.call('HGET', P .. 'agg:' .. f[1], f[2]) or '0'
end
local distinct = {}
for i, d in ipairs(spec.d) do
  if #d[1] == 1 and #d[2] == 1 then
    distinct[i] = redis.call('HLEN', P .. 'dp:' .. d[1][1] .. ':' .. d[2][1])
  else
    local total = 0
    for _, b in ipairs(d[1]) do
      for _, t in ipairs(d[2]) do
        total = total + redis.call('HLEN', P .. 'dp:' .. b .. ':' .. t)
      end
    end
    if total > budget then
      distinct[i] = -1
    else
      budget = budget - total
      read = read + total
      local seen, n = {}, 0
      for _, b in ipairs(d[1]) do
        for _, t in ipairs(d[2]) do
          for _, person in ipairs(redis.call('HKEYS', P .. 'dp:' .. b .. ':' .. t)) do
            if not seen[person] then seen[person] = true; n = n + 1 end
          end
        end
      end
      distinct[i] = n
    end
  end
end
local latest = {}
for i, l in ipairs(spec.l) do
  local best_id, best_score, best_t = nil, -1, ''
  for _, m in ipairs(l[1]) do
    for _, t in ipairs(l[2]) do
      local top = redis.call('ZREVRANGE', P .. 'lt:' .. m .. ':' .. t, 0, 0, 'WITHSCORES')
      if top[1] then
        local s = tonumber(top[2])
        if s > best_score or (s == best_score and top[1] > best_id) then
          best_id, best_score, best_t = top[1], s, t
        end
      end
    end
    if best_id then break end
  end
  if best_id then
    local rk = P .. 'a:' .. best_id
    local kind = redis.call('TYPE', rk).ok
    -- Written with its index entry: absent only while the slot migrates.
    if kind == 'none' then return redis.error_reply('TRYAGAIN the org\'s slot is migrating') end
    if kind == 'hash' then
      latest[3 * i - 2] = cjson.decode(redis.call('HGET', rk, 'c')).q[l[3]] or ''
    else
      latest[3 * i - 2] = quantity_of(redis.call('GET', rk), l[3]) or ''
    end
    latest[3 * i - 1] = best_id
    latest[3 * i] = best_t
  else
    latest[3 * i - 2] = ''
    latest[3 * i - 1] = ''
    latest[3 * i] = ''
  end
end
return {redis.call('GET', KEYS[1]) or '0', fields, distinct, latest, read}
)lua";

constexpr char kVersionedSetLua[] = R"lua(
-- KEYS: 1 the {d, r} hash, 2 the request id's key (same slot).
-- ARGV: mode (create|update|put), expected revision ('0' = any), blob,
--       fingerprint ('' = no request id), request ttl, result (what a
--       repeat answers).
-- Returns {'OK', revision} | {'REPLAYED', result} | {'REQUEST_REUSED'} |
--         {'EXISTS'} | {'NOTFOUND'} | {'STALE', revision}
local mode, expected, blob, fp, ttl, result = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local prior = request_prior(KEYS[2], fp)
if prior then return prior end
local cur = redis.call('HGET', KEYS[1], 'r')
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' then
  if not cur then return {'NOTFOUND'} end
  if expected ~= '0' and expected ~= cur then return {'STALE', cur} end
end
local rev = (cur and tonumber(cur) or 0) + 1
redis.call('HSET', KEYS[1], 'd', blob, 'r', rev)
request_remember(KEYS[2], fp, result, ttl)
return {'OK', rev}
)lua";

}  // namespace

const redis::Script& WriteActivityScript() {
  static const redis::Script script(
      absl::StrCat(request_id::kLuaPrelude, events::kLuaPrelude, redis::kSlotCheckLua, kListingLua,
                   kWriteActivityLua),
      redis::Script::kWrites);
  return script;
}

const redis::Script& IndexLegacyRecordsScript() {
  static const redis::Script script(absl::StrCat(kListingLua, kIndexLegacyLua));
  return script;
}

const redis::Script& MigrateBucketsScript() {
  static const redis::Script script(absl::StrCat(kListingLua, kMigrateBucketsLua));
  return script;
}

const redis::Script& ListIndexScript() {
  static const redis::Script script(absl::StrCat(redis::kSlotCheckLua, kListingLua, kListIndexLua));
  return script;
}

const redis::Script& ReadFiguresScript() {
  static const redis::Script script(
      absl::StrCat(redis::kSlotCheckLua, kProtobufLua, kReadFiguresLua));
  return script;
}

const redis::Script& MigrateGlobalIndexesScript() {
  static const redis::Script script(absl::StrCat(kProtobufLua, kMigrateGlobalIndexesLua));
  return script;
}

const redis::Script& VersionedSetScript() {
  static const redis::Script script(absl::StrCat(request_id::kLuaPrelude, kVersionedSetLua),
                                    redis::Script::kWrites);
  return script;
}

}  // namespace govreport::records
