#include "previous_listing_layout.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "records/store.h"

namespace govreport::records {
namespace {

// Every directory of the org's listing indexes, named in full.
std::vector<std::string> Directories(redis::Client& client, const std::string& prefix) {
  std::vector<std::string> dirs{prefix + "ix:u"};
  auto types = client.Command({"SMEMBERS", prefix + "types"});
  EXPECT_TRUE(types.ok()) << types.status();
  if (!types.ok()) return dirs;
  for (size_t i = 0; i < types->Size(); ++i) {
    dirs.push_back(absl::StrCat(prefix, "ix:c:", (*types)[i].Str()));
    dirs.push_back(absl::StrCat(prefix, "ix:d:", (*types)[i].Str()));
  }
  return dirs;
}

std::vector<std::string> BucketNames(redis::Client& client, const std::string& dir) {
  std::vector<std::string> names;
  auto r = client.Command({"ZRANGE", dir, "0", "-1"});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return names;
  for (size_t i = 0; i < r->Size(); ++i) names.push_back((*r)[i].AsString());
  return names;
}

}  // namespace

std::vector<IndexBucket> ListingBuckets(redis::Client& client, const std::string& org) {
  const std::string prefix = absl::StrCat("gr:{", org, "}:");
  std::vector<IndexBucket> out;
  for (const std::string& dir : Directories(client, prefix)) {
    for (const std::string& name : BucketNames(client, dir)) {
      IndexBucket b;
      b.key = absl::StrCat(dir, ":", name);
      auto n = client.Command({"ZCARD", b.key});
      EXPECT_TRUE(n.ok()) << n.status();
      if (n.ok()) b.size = n->Int();
      out.push_back(std::move(b));
    }
  }
  return out;
}

void ToPreviousListingLayout(redis::Client& client, const std::string& org) {
  const std::string prefix = absl::StrCat("gr:{", org, "}:");
  for (const std::string& dir : Directories(client, prefix)) {
    const std::string kind = dir.substr(prefix.size() + 3, 1);
    const std::string type = kind == "u" ? "" : dir.substr(prefix.size() + 5);
    for (const std::string& name : BucketNames(client, dir)) {
      const std::string key = absl::StrCat(dir, ":", name);
      auto entries = client.Command({"ZRANGE", key, "0", "-1", "WITHSCORES"});
      ASSERT_TRUE(entries.ok()) << entries.status();
      for (size_t i = 0; i + 1 < entries->Size(); i += 2) {
        const std::string id = (*entries)[i].AsString();
        auto score = (*entries)[i + 1].AsInt();
        ASSERT_TRUE(score.ok()) << score.status();
        redis::Args add;
        if (kind == "u") {
          add = {"ZADD", prefix + "acts:u", absl::StrCat(*score), id};
        } else if (kind == "c") {
          add = {"ZADD", absl::StrCat(prefix, "acts:c:t:", type), absl::StrCat(*score), id};
        } else {
          const int64_t day = *score / kDateScoreDay;
          add = {"ZADD", absl::StrCat(prefix, "acts:d:t:", type), "0",
                 absl::StrFormat("%04d%02d%02d:%015d:%s", day / 512, day % 512 / 32, day % 32,
                                 *score % kDateScoreDay, id)};
        }
        ASSERT_TRUE(client.Command(add).ok());
      }
      ASSERT_TRUE(client.Command({"DEL", key}).ok());
    }
    ASSERT_TRUE(client.Command({"DEL", dir}).ok());
  }
}

}  // namespace govreport::records
