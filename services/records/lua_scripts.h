// The Lua scripts that make every write atomic with the aggregates it
// changes. KEYS[1] is always the org's data-version key "gr:{org}:dv"; the
// script derives the org's other keys from its prefix. They all carry the
// same hash tag, so under Redis Cluster they share one slot.
#ifndef GOVREPORT_RECORDS_LUA_SCRIPTS_H_
#define GOVREPORT_RECORDS_LUA_SCRIPTS_H_

#include "common/redis.h"

namespace govreport::records {

// Create, amend or void one activity record: the record, its revision
// list, the year/half/quarter/month aggregates, the distinct-person
// counts, the latest-value index (which is the provenance too), the listing indexes,
// the idempotency keys, the data version and the org's event, all or
// nothing.
const redis::Script& WriteActivityScript();

// Puts records stored by an earlier version (in gr:{org}:acts only) into
// the listing indexes, a bounded number per call.
const redis::Script& IndexLegacyRecordsScript();

// Empties the indexes over all types the previous version kept (acts:c,
// acts:d) into the set of types, a bounded number per call.
const redis::Script& MigrateGlobalIndexesScript();

// Moves the previous version's listing indexes (one sorted set each) into
// the bucketed ones, a bounded number of entries per call.
const redis::Script& MigrateBucketsScript();

// Reads a range of scores from listing indexes (kListingLua's buckets),
// the first entries of each.
const redis::Script& ListIndexScript();

// Reads counts, sums, distinct persons and latest values for a set of
// buckets in one atomic step, with the data version they belong to.
const redis::Script& ReadFiguresScript();

// Compare-and-set of a {d: blob, r: revision} hash, with request-id replay.
const redis::Script& VersionedSetScript();

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_LUA_SCRIPTS_H_
