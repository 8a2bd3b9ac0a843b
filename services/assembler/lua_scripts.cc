#include "assembler/lua_scripts.h"

#include "absl/strings/str_cat.h"
#include "common/events.h"
#include "common/request_id.h"
#include "common/slot_check.h"

namespace govreport::assembler {

namespace {

// The Lua text, apart from the function that loads it: it is Lua, not C++
// (readability-function-size would count it as function lines).
constexpr char kCommitReportLua[] = R"lua(
-- KEYS: 1 the report, 2 the org's change sequence (rseq), 3 its change
--       index (rpts:u), then the keys the operations name.
-- ARGV: 1 expected version ('0' = create), 2 report blob, 3 its version,
--       4 guard key index (0 = none), 5 request key index (0 = none),
--       6 the request's fingerprint, then the operations.
local expected, blob, version, guard = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local rq, fp = tonumber(ARGV[5]), ARGV[6]
if rq > 0 then
  local prior = request_prior(KEYS[rq], fp)
  if prior then return prior end
end
if guard > 0 then
  local prev = redis.call('GET', KEYS[guard])
  if prev then return {'REPLAYED', prev} end
end
local cur = redis.call('HGET', KEYS[1], 'v')
if expected == '0' then
  if cur then return {'EXISTS', cur} end
else
  if not cur then return {'NOTFOUND'} end
  if cur ~= expected then return {'STALE', cur} end
end
-- Every operation is checked before the first write: Redis does not roll
-- a script back, so an error halfway would leave half a commit.
local ops, i = {}, 7
while i <= #ARGV do
  local op, k = ARGV[i], KEYS[tonumber(ARGV[i + 1]) or 0]
  if not k then return redis.error_reply('commit: bad key index at ' .. i) end
  if op == 'SET' or op == 'ZADD' or op == 'HSET' then
    ops[#ops + 1] = {op, k, ARGV[i + 2], ARGV[i + 3]}
    i = i + 4
  elseif op == 'REQ' or op == 'EVENT' then
    ops[#ops + 1] = {op, k, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]}
    i = i + 5
  elseif op == 'SETNX' or op == 'SREM' then
    ops[#ops + 1] = {op, k, ARGV[i + 2]}
    i = i + 3
  elseif op == 'XADD' then
    local n = tonumber(ARGV[i + 2])
    local args = {'XADD', k, '*'}
    for j = 1, 2 * n do args[#args + 1] = ARGV[i + 2 + j] end
    ops[#ops + 1] = {op, args}
    i = i + 3 + 2 * n
  else
    return redis.error_reply('commit: unknown operation ' .. tostring(op))
  end
end
-- Every change moves the report to the end of the org's change index
-- (rpts:u, docs/assembler.md "Listing") under the next change sequence,
-- which the stored report carries: Report.change_sequence (field 33, a
-- varint) appended to the serialized message overrides an earlier value.
local rid = string.match(KEYS[1], ':rpt:([^:]+)$')
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, rid)
local n, tail = seq, ''
while n >= 128 do
  tail = tail .. string.char(n % 128 + 128)
  n = math.floor(n / 128)
end
blob = blob .. '\136\2' .. tail .. string.char(n)
redis.call('HSET', KEYS[1], 'd', blob, 'v', version)
for _, o in ipairs(ops) do
  if o[1] == 'SET' then
    if o[4] ~= '0' then
      redis.call('SET', o[2], o[3], 'EX', o[4])
    else
      redis.call('SET', o[2], o[3])
    end
  elseif o[1] == 'SETNX' then
    redis.call('SETNX', o[2], o[3])
  elseif o[1] == 'ZADD' then
    redis.call('ZADD', o[2], o[3], o[4])
  elseif o[1] == 'HSET' then
    redis.call('HSET', o[2], o[3], o[4])
  elseif o[1] == 'SREM' then
    redis.call('SREM', o[2], o[3])
  elseif o[1] == 'REQ' then
    request_remember(o[2], o[3], o[4], o[5])
  elseif o[1] == 'EVENT' then
    event_append(o[2], o[3], o[4], o[5])
  else
    redis.call(unpack(o[2]))
  end
end
return {'OK', version, seq}
)lua";

// A number's own hash is named by an id the script reads or makes, so it
// cannot be declared: it is looked at before the first write, and while the
// org's slot migrates (the hash elsewhere, or not made yet) the answer is
// TRYAGAIN, which the cluster client retries, never half an allocation.
constexpr char kAllocateLua[] = R"lua(
local prefix = string.match(KEYS[4], '^(.*):seq$') .. ':'
local approval, code, year = ARGV[1], ARGV[2], ARGV[3]
local prior = redis.call('HGET', KEYS[3], approval)
local next_id = tonumber(redis.call('GET', KEYS[4]) or '0') + 1
local unsettled = slot_unsettled({prefix .. (prior or next_id), prefix .. next_id})
if unsettled then return unsettled end
if prior and redis.call('HGET', prefix .. prior, 'state') == 'ISSUED' then
  return {'OK', prior, redis.call('HGET', prefix .. prior, 'number'), '0'}
end
-- The code must still be the one the caller read; an edit of any other
-- setting in between changes nothing the number depends on.
local current = redis.call('HGET', KEYS[1], 'c') or ''
if current ~= code then return {'STALE', current} end
local n = redis.call('HINCRBY', KEYS[2], code .. '|' .. year, 1)
local id = redis.call('INCR', KEYS[4])
redis.call('HSET', prefix .. id, 'code', code, 'year', year, 'number', n, 'revision', ARGV[4],
           'approval', approval, 'state', 'ISSUED', 'issue_unix', ARGV[5])
redis.call('HSET', KEYS[3], approval, id)
redis.call('ZADD', KEYS[5], id, id)
redis.call('SADD', KEYS[6], id)
return {'OK', tostring(id), tostring(n), '1'}
)lua";

constexpr char kUpdateSettingsLua[] = R"lua(
local fp = ARGV[5]
local prior = request_prior(KEYS[3], fp)
if prior then return prior end
local rev = redis.call('HGET', KEYS[1], 'r') or '0'
if rev ~= ARGV[1] then return {'STALE', rev} end
if ARGV[4] == '1' then
  -- A number allocated under the old code and not yet printed would go
  -- out under a code the settings no longer have.
  local ids = redis.call('SMEMBERS', KEYS[2])
  if #ids > 0 then
    local prefix = string.match(KEYS[2], '^(.*):p$') .. ':'
    -- Named by the set, not declared: TRYAGAIN while the slot migrates.
    local numbers = {}
    for _, id in ipairs(ids) do numbers[#numbers + 1] = prefix .. id end
    local unsettled = slot_unsettled(numbers)
    if unsettled then return unsettled end
    local revs = {}
    for _, id in ipairs(ids) do
      revs[#revs + 1] = redis.call('HGET', prefix .. id, 'revision') or id
    end
    table.sort(revs)
    return {'CONFLICT', table.concat(revs, ' ')}
  end
end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'r', tonumber(rev) + 1, 'c', ARGV[3])
request_remember(KEYS[3], fp, ARGV[2], ARGV[6])
return {'OK'}
)lua";

constexpr char kVoidLua[] = R"lua(
local fp = ARGV[6]
local prior = request_prior(KEYS[3], fp)
if prior then return prior end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOTFOUND'} end
if redis.call('HGET', KEYS[1], 'state') == 'VOIDED' then return {'FINAL'} end
local pending = redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1
if (ARGV[5] == 'admin' and pending) or (ARGV[5] == 'unpublished' and not pending) then
  return {'CONFLICT', redis.call('HGET', KEYS[1], 'revision') or ''}
end
redis.call('HSET', KEYS[1], 'state', 'VOIDED', 'void_reason', ARGV[2], 'voided_by', ARGV[3],
           'void_unix', ARGV[4])
redis.call('SREM', KEYS[2], ARGV[1])
request_remember(KEYS[3], fp, ARGV[1], ARGV[7])
return {'OK'}
)lua";

constexpr char kAddSigningKeyLua[] = R"lua(
local fp = ARGV[5]
local prior = request_prior(KEYS[3], fp)
if prior then return prior end
local old = redis.call('HGET', KEYS[1], 'active')
redis.call('HSET', KEYS[1], 'k' .. ARGV[1], ARGV[2], 'active', ARGV[1])
redis.call('HSET', KEYS[2], 's' .. ARGV[1], ARGV[3])
if old and old ~= ARGV[1] then redis.call('HSET', KEYS[1], 'r' .. old, ARGV[4]) end
request_remember(KEYS[3], fp, ARGV[1], ARGV[6])
return {'OK'}
)lua";

// KEYS: 1 the org's signing keys. ARGV: field, the value it must still
// have, the new value. 1 when replaced, 0 when it changed meanwhile.
constexpr char kReplaceSigningKeyLua[] = R"lua(
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
)lua";

}  // namespace

const redis::Script& ReplaceSigningKeyScript() {
  static const redis::Script script(kReplaceSigningKeyLua);
  return script;
}

const redis::Script& AddSigningKeyScript() {
  static const redis::Script script(absl::StrCat(request_id::kLuaPrelude, kAddSigningKeyLua));
  return script;
}

const redis::Script& AllocateDocumentNumberScript() {
  static const redis::Script script(absl::StrCat(redis::kSlotCheckLua, kAllocateLua));
  return script;
}

const redis::Script& UpdateDocumentSettingsScript() {
  static const redis::Script script(
      absl::StrCat(request_id::kLuaPrelude, redis::kSlotCheckLua, kUpdateSettingsLua));
  return script;
}

const redis::Script& VoidDocumentNumberScript() {
  static const redis::Script script(absl::StrCat(request_id::kLuaPrelude, kVoidLua));
  return script;
}

const redis::Script& CommitReportScript() {
  static const redis::Script script(
      absl::StrCat(request_id::kLuaPrelude, events::kLuaPrelude, kCommitReportLua));
  return script;
}

}  // namespace govreport::assembler
