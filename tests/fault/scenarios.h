// The fault scenarios (docs/faults.md). Each starts its own redis-server and
// services, is bounded in time and operations, adds its figures to
// `results` (faults.*) and says what it did and what it lost.
#ifndef GOVREPORT_TESTS_FAULT_SCENARIOS_H_
#define GOVREPORT_TESTS_FAULT_SCENARIOS_H_

#include "tests/fault/harness.h"

namespace govreport::fault {

// 1. Records ingested while redis-server is SIGKILLed and restarted.
ScenarioResult RunIngestUnderRedisCrashes(const Env& env, Results& results);
// 2. Assembler replicas SIGKILLed in the middle of assemble and publish
//    jobs.
ScenarioResult RunWorkerCrashes(const Env& env, Results& results);
// 3. Every service restarted with SIGTERM while clients keep calling.
ScenarioResult RunServiceRestarts(const Env& env, Results& results);
// 4. Many approvers acting at once on many approvals.
ScenarioResult RunApprovalRaces(const Env& env, Results& results);
// 5. Redis killed and frozen: health, fail-fast, recovery.
ScenarioResult RunRedisUnavailable(const Env& env, Results& results);
// 6. Malformed requests to every RPC.
ScenarioResult RunBadInput(const Env& env, Results& results);
// 7. Org B's admin on org A's resources, for every RPC.
ScenarioResult RunIsolationMatrix(const Env& env, Results& results);
// 8. One tenant's denial-of-service inputs while another's figures are
//    read (faults.abuse.*).
ScenarioResult RunAbuse(const Env& env, Results& results);

// Mixed load (scripts/bench.sh): ingest, assemble and approve at once for
// a fixed number of operations; load.mixed.* and rss.<service>_mb.
int RunMixedLoad(const Env& env, bool quick, Results& results);

}  // namespace govreport::fault

#endif  // GOVREPORT_TESTS_FAULT_SCENARIOS_H_
