// Every Lua script of the approval service, each with its KEYS/ARGV
// contract where it is defined (lua_scripts.cc). Write scripts start with
// the request-id prelude (common/request_id.h) and answer in the Outcome
// vocabulary (common/outcome.h).
#ifndef GOVREPORT_APPROVAL_LUA_SCRIPTS_H_
#define GOVREPORT_APPROVAL_LUA_SCRIPTS_H_

#include "common/redis.h"

namespace govreport::approval {

// Create or revise a workflow, with request-id replay.
const redis::Script& WorkflowScript();
// Replace a role's members, with request-id replay.
const redis::Script& RoleScript();
// One approval transition, all or nothing.
const redis::Script& CommitScript();
// Claim due timers for a lease.
const redis::Script& ClaimScript();

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_LUA_SCRIPTS_H_
