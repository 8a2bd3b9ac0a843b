#include "templates/service/lua_scripts.h"

#include "absl/strings/str_cat.h"
#include "common/request_id.h"

namespace govreport::templates {

const redis::Script& StoreTemplateScript() {
  static const redis::Script script(absl::StrCat(request_id::kLuaPrelude, R"lua(
-- KEYS: template hash, index, request key (common/request_id.h).
-- ARGV: mode, expected, blob, id, ttl, fingerprint ('' = no request id).
-- Returns {'OK', revision} | {'REPLAYED', revision} | {'REQUEST_REUSED'} |
--         {'EXISTS', latest} | {'NOTFOUND'} | {'STALE', latest}
local mode, expected, blob, id, ttl, fp = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local prior = request_prior(KEYS[3], fp)
if prior then return prior end
local cur = redis.call('HGET', KEYS[1], 'latest')
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' then
  if not cur then return {'NOTFOUND'} end
  if cur ~= expected then return {'STALE', cur} end
end
local rev = (cur and tonumber(cur) or 0) + 1
redis.call('HSET', KEYS[1], 'latest', rev, 'r' .. rev, blob)
redis.call('ZADD', KEYS[2], 0, id)
request_remember(KEYS[3], fp, rev, ttl)
return {'OK', rev}
)lua"));
  return script;
}

}  // namespace govreport::templates
