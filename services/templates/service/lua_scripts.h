// The Lua scripts of the templates service (one: every template write).
// Keys and values are laid out in store.h.
#ifndef GOVREPORT_TEMPLATES_SERVICE_LUA_SCRIPTS_H_
#define GOVREPORT_TEMPLATES_SERVICE_LUA_SCRIPTS_H_

#include "common/redis.h"

namespace govreport::templates {

// Writes the next revision of a template, once per request id.
// KEYS[1]: the template hash {latest: n, r<n>: Template blob}; KEYS[2]: the
//          scope's index of ids; KEYS[3]: the request key.
// ARGV: mode ('create' | 'update'), expected latest revision (update),
//       the new revision's blob, template id, request key TTL in seconds.
// Returns {'OK', rev} | {'DUP_REQ', rev the request wrote} |
//         {'EXISTS', latest} (create) | {'NOTFOUND'} (update) |
//         {'STALE', latest} (update, latest is not the expected one).
// Checks come before the first write, so a refused write changes nothing.
const redis::Script& StoreTemplateScript();

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_LUA_SCRIPTS_H_
