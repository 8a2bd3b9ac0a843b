#include "approval/lua_scripts.h"

#include "absl/strings/str_cat.h"
#include "common/events.h"
#include "common/request_id.h"

namespace govreport::approval {

// KEYS: 1 workflow hash, 2 workflow index, 3 request record.
// ARGV: 1 fingerprint ('' = no request_id), 2 revision read ('0' = create),
//       3 new revision, 4 workflow blob, 5 request ttl, 6 workflow id.
const redis::Script& WorkflowScript() {
  static const redis::Script* s = new redis::Script(absl::StrCat(request_id::kLuaPrelude, R"lua(
local p = request_prior(KEYS[3], ARGV[1])
if p then return p end
local cur = redis.call('HGET', KEYS[1], 'rev')
if ARGV[2] == '0' then
  if cur then return {'EXISTS'} end
elseif cur ~= ARGV[2] then
  return {'CONFLICT', cur or ''}
end
redis.call('HSET', KEYS[1], 'rev', ARGV[3], 'cur', ARGV[4], 'r' .. ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[6])
request_remember(KEYS[3], ARGV[1], ARGV[4], ARGV[5])
return {'OK'}
)lua"));
  return *s;
}

// KEYS: 1 role set, 2 role index, 3 request record.
// ARGV: 1 fingerprint, 2 request ttl, 3 role, 4 result, 5.. members.
const redis::Script& RoleScript() {
  static const redis::Script* s = new redis::Script(absl::StrCat(request_id::kLuaPrelude, R"lua(
local p = request_prior(KEYS[3], ARGV[1])
if p then return p end
redis.call('DEL', KEYS[1])
if #ARGV >= 5 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 5))
  redis.call('ZADD', KEYS[2], 0, ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[3])
end
request_remember(KEYS[3], ARGV[1], ARGV[4], ARGV[2])
return {'OK'}
)lua"));
  return *s;
}

// One approval transition, all or nothing: every check comes before the
// first write. A transition an outside system reacts to is also an event
// in the org's log (KEYS[8], common/events.h), appended here so that it
// exists exactly when the transition does: a replay or a refused
// transition returns before any write and appends nothing.
//
// Every key is the org's (its hash tag), so the script runs on Redis
// Cluster too: the event stream and the timer set are the org's own
// (gr:{org}:ev:approval, gr:{org}:timers:approval); the store adds the org
// to their indexes before it runs (store.h).
//
// KEYS: 1 approval hash, 2 history list, 3 request record, 4 the org's
//       approval event stream, 5 the org's timers, 6 approval index, 7 active subjects, 8 the org's
//       event log, 9.. inboxes (first the ARGV[14] that gain the approval, then the ARGV[15] that
//       lose it).
// ARGV: 1 version read ('0' = create), 2 history head read,
//       3 new version ('' = history only), 4 new state, 5 history entry,
//       6 its hash, 7 fingerprint, 8 result, 9 request ttl,
//       10 timer that must still be pending (''), 11 approval id,
//       12 subject op ('set' | 'clear' | 'approved' | ''), 13 subject,
//       14 #inbox add, 15 #inbox remove, 16 #timer add, 17 #timer remove,
//       18 #event words, 19 org event MINID, 20 its kind ('' = none),
//       21 its payload, 22.. timer adds (score, member), timer removes,
//       event field/value words.
const redis::Script& CommitScript() {
  static const redis::Script* s =
      new redis::Script(absl::StrCat(request_id::kLuaPrelude, events::kLuaPrelude, R"lua(
local p = request_prior(KEYS[3], ARGV[7])
if p then return p end
local cur = redis.call('HMGET', KEYS[1], 'v', 'hh')
if ARGV[1] == '0' then
  if cur[1] then return {'EXISTS'} end
elseif cur[1] ~= ARGV[1] then
  return {'CONFLICT', cur[1] or ''}
end
if (cur[2] or '') ~= ARGV[2] then return {'STALE'} end
if ARGV[10] ~= '' and not redis.call('ZSCORE', KEYS[5], ARGV[10]) then
  return {'GONE'}
end
local id = ARGV[11]
if ARGV[12] == 'set' then
  local other = redis.call('HGET', KEYS[7], ARGV[13])
  if other then
    if string.sub(other, 1, 1) == '=' then return {'FINAL', string.sub(other, 2)} end
    return {'BUSY', other}
  end
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'data', ARGV[4])
end
local n = redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[1], 'hn', n, 'hh', ARGV[6])
if ARGV[1] == '0' then redis.call('ZADD', KEYS[6], 0, id) end
if ARGV[12] == 'set' then
  redis.call('HSET', KEYS[7], ARGV[13], id)
elseif ARGV[12] ~= '' and redis.call('HGET', KEYS[7], ARGV[13]) == id then
  -- An approved subject stays taken for good ('=' + the approval id).
  if ARGV[12] == 'approved' then
    redis.call('HSET', KEYS[7], ARGV[13], '=' .. id)
  else
    redis.call('HDEL', KEYS[7], ARGV[13])
  end
end
local nadd, nrem = tonumber(ARGV[14]), tonumber(ARGV[15])
for i = 1, nadd do redis.call('ZADD', KEYS[8 + i], 0, id) end
for i = 1, nrem do redis.call('ZREM', KEYS[8 + nadd + i], id) end
local a = 22
for i = 1, tonumber(ARGV[16]) do
  redis.call('ZADD', KEYS[5], ARGV[a], ARGV[a + 1])
  a = a + 2
end
for i = 1, tonumber(ARGV[17]) do
  redis.call('ZREM', KEYS[5], ARGV[a])
  a = a + 1
end
if ARGV[10] ~= '' then redis.call('ZREM', KEYS[5], ARGV[10]) end
local fields = {}
for i = 1, tonumber(ARGV[18]) do
  fields[i] = ARGV[a]
  a = a + 1
end
local eid = redis.call('XADD', KEYS[4], '*', unpack(fields))
if ARGV[20] ~= '' then event_append(KEYS[8], ARGV[19], ARGV[20], ARGV[21]) end
request_remember(KEYS[3], ARGV[7], ARGV[8], ARGV[9])
return {'OK', n, eid}
)lua"));
  return *s;
}

// KEYS: 1 timers. ARGV: 1 now, 2 lease seconds, 3 limit.
const redis::Script& ClaimScript() {
  static const redis::Script* s = new redis::Script(R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local lease_end = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', lease_end, m) end
return due
)lua");
  return *s;
}

}  // namespace govreport::approval
