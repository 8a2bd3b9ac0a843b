// Turns an org's listing indexes back into the layout the previous version
// wrote, one sorted set each (acts:c:t:{type}, acts:d:t:{type} of
// "yyyymmdd:creation sequence:id" with one score, acts:u), for the tests of
// the upgrade. Also reports the buckets it found.
#ifndef GOVREPORT_TESTS_RECORDS_PREVIOUS_LISTING_LAYOUT_H_
#define GOVREPORT_TESTS_RECORDS_PREVIOUS_LISTING_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/redis.h"

namespace govreport::records {

// The listing index buckets of an org: each bucket's key and size.
struct IndexBucket {
  std::string key;
  int64_t size = 0;
};
std::vector<IndexBucket> ListingBuckets(redis::Client& client, const std::string& org);

// Moves every entry of the bucketed indexes into the previous version's
// one-set indexes and deletes the buckets and their directories.
void ToPreviousListingLayout(redis::Client& client, const std::string& org);

}  // namespace govreport::records

#endif  // GOVREPORT_TESTS_RECORDS_PREVIOUS_LISTING_LAYOUT_H_
