// Lua a script starts with when it reaches keys it cannot declare (named
// by what it reads) or must not be stopped halfway on a cluster while a
// slot migrates:
//   slot_unsettled(keys) -> nil when every key is served here (always on a
//                           single Redis), else the TRYAGAIN error to return
//                           before any write: the slot is migrating and a key
//                           is elsewhere or not made yet. The cluster client
//                           retries TRYAGAIN with backoff.
// A file of its own: it sends EXISTS, which only the services whose scripts
// include it may (tests/e2e/check_redis_acl.py, deploy/redis/users.acl.template).
#ifndef GOVREPORT_COMMON_SLOT_CHECK_H_
#define GOVREPORT_COMMON_SLOT_CHECK_H_

namespace govreport::redis {

extern const char kSlotCheckLua[];

}  // namespace govreport::redis

#endif  // GOVREPORT_COMMON_SLOT_CHECK_H_
