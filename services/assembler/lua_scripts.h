// The one Lua script every report write goes through. C++ reads the report,
// decides the next state (domain.h) and hands the script the new blob with
// the version it was computed from; the script checks the replay guard and
// the version before its first write, so a refused commit changes nothing.
#ifndef GOVREPORT_ASSEMBLER_LUA_SCRIPTS_H_
#define GOVREPORT_ASSEMBLER_LUA_SCRIPTS_H_

#include "common/redis.h"

namespace govreport::assembler {

// KEYS[1]: the report hash {d: blob, v: version}; KEYS[2..]: keys the
// operations name by index.
// ARGV: expected version ('0': the report must not exist), new blob, new
//       version, guard key index ('0': none), then operations:
//         SET   idx value ttl      (ttl '0': keep forever)
//         SETNX idx value          (frozen documents are never overwritten)
//         ZADD  idx score member
//         XADD  idx n f1 v1 ... fn vn
//         REQ   idx fingerprint result ttl   (common/request_id.h)
//         EVENT idx min_id kind payload      (the org's event log,
//                                             common/events.h)
// Every commit also gives the report the org's next change sequence
// (gr:{org}:rseq) and moves it to the end of gr:{org}:rpts:u.
// Returns {'OK', version, change sequence} | {'DUP', guard value} | {'EXISTS', version} |
//         {'NOTFOUND'} | {'STALE', version}.
const redis::Script& CommitReportScript();

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_LUA_SCRIPTS_H_
