#include "templates/service/lua_scripts.h"

namespace govreport::templates {

const redis::Script& StoreTemplateScript() {
  static const redis::Script script(R"lua(
-- KEYS: template hash, index, request key. ARGV: mode, expected, blob, id, ttl.
local mode, expected, blob, id, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prev = redis.call('GET', KEYS[3])
if prev then return {'DUP_REQ', prev} end
local cur = redis.call('HGET', KEYS[1], 'latest')
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' then
  if not cur then return {'NOTFOUND'} end
  if cur ~= expected then return {'STALE', cur} end
end
local rev = (cur and tonumber(cur) or 0) + 1
redis.call('HSET', KEYS[1], 'latest', rev, 'r' .. rev, blob)
redis.call('ZADD', KEYS[2], 0, id)
redis.call('SET', KEYS[3], rev, 'EX', ttl)
return {'OK', rev}
)lua");
  return script;
}

}  // namespace govreport::templates
