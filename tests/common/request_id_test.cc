// The request-id toolkit every mutating RPC uses: one validation, one
// fingerprint of "the same call", one Lua prelude.
#include "common/request_id.h"

#include "absl/strings/match.h"
#include "common/outcome.h"
#include "common/redis.h"
#include "govreport/records/v1/records.pb.h"
#include "gtest/gtest.h"
#include "redis_server.h"

namespace govreport {
namespace {

namespace pb = ::govreport::records::v1;

TEST(RequestIdTest, PrintableAsciiWithoutSpacesUpTo128) {
  EXPECT_TRUE(request_id::Validate("").ok());
  EXPECT_TRUE(request_id::Validate("3f2a9c1e-77b0-4c52-9d1c-0a6b5e2f8d41").ok());
  EXPECT_TRUE(request_id::Validate(std::string(128, 'x')).ok());
  EXPECT_FALSE(request_id::Validate(std::string(129, 'x')).ok());
  for (const char* bad : {"a b", "a\tb", "a\nb", "请求", "a\x7f"}) {
    absl::Status s = request_id::Validate(bad, "requests[4].request_id");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(s.message(), "requests[4].request_id")) << s;
  }
}

TEST(RequestIdTest, ABatchMayNotUseAnIdTwice) {
  EXPECT_TRUE(request_id::ValidateBatch({"a", "b", "", ""}, "requests").ok());
  absl::Status s = request_id::ValidateBatch({"a", "b", "a"}, "requests");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "requests[2].request_id: 'a' is also requests[0]"))
      << s;
}

TEST(RequestIdTest, TheFingerprintIsTheCallLessItsId) {
  pb::VoidActivityRequest a;
  a.set_name("orgs/kjj/activities/x");
  a.set_reason("dup");
  a.set_request_id("r1");
  pb::VoidActivityRequest same = a;
  same.set_request_id("r2");
  const std::string fp = request_id::Fingerprint("VoidActivity", a.name(), "kjj/li", a);
  EXPECT_EQ(fp, request_id::Fingerprint("VoidActivity", a.name(), "kjj/li", same));
  EXPECT_NE(fp, request_id::Fingerprint("AmendActivity", a.name(), "kjj/li", a));
  EXPECT_NE(fp, request_id::Fingerprint("VoidActivity", "orgs/kjj/activities/y", "kjj/li", a));
  EXPECT_NE(fp, request_id::Fingerprint("VoidActivity", a.name(), "kjj/wang", a));
  pb::VoidActivityRequest other = a;
  other.set_reason("wrong");
  EXPECT_NE(fp, request_id::Fingerprint("VoidActivity", a.name(), "kjj/li", other));
  // Lengths keep the parts apart: "ab"+"c" is not "a"+"bc".
  EXPECT_NE(request_id::Fingerprint("ab", "c", "", a), request_id::Fingerprint("a", "bc", "", a));
}

TEST(RequestIdTest, ThePreludeReplaysRefusesAndForgets) {
  testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  redis::Client client(server.options());
  redis::Script script(std::string(request_id::kLuaPrelude) + R"lua(
local prior = request_prior(KEYS[1], ARGV[1])
if prior then return prior end
request_remember(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return {'OK'}
)lua");
  const std::string key = request_id::Key("kjj", "r1");
  EXPECT_EQ(key, "gr:{kjj}:rq:r1");
  auto run = [&](const std::string& fp, const std::string& result) {
    auto r = client.Eval(script, {key}, {fp, result, request_id::RetentionSeconds()});
    EXPECT_TRUE(r.ok());
    return r.ok() ? ParseOutcome((*r)[0].Str()) : Outcome::kUnknown;
  };
  EXPECT_EQ(run("fp1", "first"), Outcome::kOk);
  auto replay = client.Eval(script, {key}, {"fp1", "second", "60"});
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(ParseOutcome((*replay)[0].Str()), Outcome::kReplayed);
  EXPECT_EQ((*replay)[1].Str(), "first");
  EXPECT_EQ(run("fp2", "x"), Outcome::kRequestReused);
  // Without an id (empty fingerprint) nothing is read or kept.
  EXPECT_EQ(run("", "x"), Outcome::kOk);
  EXPECT_EQ(run("", "y"), Outcome::kOk);
  auto ttl = client.Command({"TTL", key});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->Int(), 7 * 24 * 3600 - 60);
}

}  // namespace
}  // namespace govreport
