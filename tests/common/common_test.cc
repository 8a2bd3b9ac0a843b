// Flags, resource names, page tokens, auth checks and digests.
#include <cstdlib>

#include "common/auth.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/resource.h"
#include "gtest/gtest.h"
#include "redis_server.h"

namespace govreport {
namespace {

TEST(FlagsTest, FlagBeatsEnvironmentWhichBeatsDefault) {
  Flags f("prog", "");
  f.Define("redis-url", "redis://a:1", "");
  f.Define("listen", "x:1", "");
  f.Define("json", "false", "");
  setenv("GOVREPORT_REDIS_URL", "redis://env:2", 1);
  setenv("GOVREPORT_LISTEN", "env:3", 1);
  char* argv[] = {(char*)"prog", (char*)"--listen=flag:4", (char*)"--json", (char*)"word"};
  ASSERT_TRUE(f.Parse(4, argv).ok());
  EXPECT_EQ(f.Get("redis-url"), "redis://env:2");
  EXPECT_EQ(f.Get("listen"), "flag:4");
  EXPECT_TRUE(f.GetBool("json"));
  EXPECT_EQ(f.positional(), std::vector<std::string>{"word"});
  unsetenv("GOVREPORT_REDIS_URL");
  unsetenv("GOVREPORT_LISTEN");
  char* bad[] = {(char*)"prog", (char*)"--nope=1"};
  Flags g("prog", "");
  EXPECT_FALSE(g.Parse(2, bad).ok());
}

TEST(ResourceTest, NamesAndTokens) {
  auto parts = ParseName("orgs/kjj/activities/abc", "orgs/*/activities/*", "name");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ((*parts)[0], "kjj");
  EXPECT_FALSE(ParseName("orgs/KJJ/activities/abc", "orgs/*/activities/*", "name").ok());
  EXPECT_FALSE(ParseName("orgs/a{b}/x", "orgs/*", "name").ok());
  EXPECT_EQ(OrgPrefix("kjj"), "gr:{kjj}:");
  std::string token = EncodePageToken("list-a", 40);
  EXPECT_EQ(*DecodePageToken("list-a", token), 40);
  EXPECT_FALSE(DecodePageToken("list-b", token).ok());
  EXPECT_FALSE(DecodePageToken("list-a", "garbage!").ok());
  EXPECT_EQ(*PageSize(0, 50, 100), 50);
  EXPECT_EQ(*PageSize(1000, 50, 100), 100);
  EXPECT_FALSE(PageSize(-1, 50, 100).ok());
}

TEST(CryptoTest, DigestsAndIds) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  std::string a = NewId(), b = NewId();
  EXPECT_EQ(a.size(), 19u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsValidId(a));
  EXPECT_EQ(JsonQuote("a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\u0001\"");
  EXPECT_EQ(JsonStringArray({}), "[]");
  EXPECT_EQ(JsonStringArray({"张三", "李四, 副局长"}), R"(["张三","李四, 副局长"])");
}

TEST(AuthTest, TokensRolesAndOrgs) {
  testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  redis::Client client(server.options());
  auth::Authenticator authn(&client, "operator-secret", absl::ZeroDuration());
  auto op = authn.AuthenticateToken("operator-secret");
  ASSERT_TRUE(op.ok());
  EXPECT_TRUE(op->IsOperator());
  EXPECT_EQ(authn.AuthenticateToken("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authn.AuthenticateToken("forged").status().code(), absl::StatusCode::kUnauthenticated);

  auth::Principal clerk{"li", "kjj", {"recorder"}, "user", "Li"};
  auto issued = authn.tokens().Issue(clerk, absl::ZeroDuration());
  ASSERT_TRUE(issued.ok());
  // Only the hash is stored.
  auto keys = client.Command({"KEYS", "*"});
  for (size_t i = 0; i < keys->Size(); ++i) {
    EXPECT_EQ(std::string((*keys)[i].Str()).find(issued->secret), std::string::npos);
  }
  auto p = authn.AuthenticateToken(issued->secret);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->org, "kjj");
  EXPECT_TRUE(auth::CheckOrgRoles(*p, "kjj", {"recorder"}).ok());
  EXPECT_EQ(auth::CheckOrgRoles(*p, "kjj", {"drafter"}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth::CheckOrgRoles(*p, "other", {"recorder"}).code(),
            absl::StatusCode::kPermissionDenied);
  // Another org cannot revoke it, and learns nothing.
  EXPECT_EQ(authn.tokens().Revoke(issued->token_id, "other").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(authn.tokens().Revoke(issued->token_id, "kjj").ok());
  EXPECT_EQ(authn.AuthenticateToken(issued->secret).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// A 2 s token worked at 2.8 s because the cache did not look at its expiry.
TEST(AuthTest, ExpiryIsCheckedOnEveryUseEvenWhenCached) {
  testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  redis::Client client(server.options());
  absl::Time now = absl::Now();
  auth::Authenticator authn(&client, "", absl::Hours(1), [&now] { return now; });
  auth::Principal clerk{"li", "kjj", {"recorder"}, "user", "Li"};
  auto issued = authn.tokens().Issue(clerk, absl::Seconds(2));
  ASSERT_TRUE(issued.ok());
  ASSERT_TRUE(authn.AuthenticateToken(issued->secret).ok());  // Now cached.
  now = absl::FromUnixSeconds(issued->expire_unix) - absl::Milliseconds(200);
  EXPECT_TRUE(authn.AuthenticateToken(issued->secret).ok());
  now = absl::FromUnixSeconds(issued->expire_unix) + absl::Milliseconds(800);
  EXPECT_EQ(authn.AuthenticateToken(issued->secret).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// An org admin could mint the platform's role; a token of an org that
// carries it gains nothing from it.
TEST(AuthTest, ThePlatformRoleMeansNothingOnAnOrgsToken) {
  testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  redis::Client client(server.options());
  auth::Authenticator authn(&client, "", absl::ZeroDuration());
  auth::Principal minted{"oa", "kjj", {"service", "recorder"}, "service", ""};
  auto issued = authn.tokens().Issue(minted, absl::ZeroDuration());
  ASSERT_TRUE(issued.ok());
  auto p = authn.AuthenticateToken(issued->secret);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->HasRole(auth::kService));
  EXPECT_TRUE(p->HasRole(auth::kRecorder));
  EXPECT_EQ(auth::CheckOrgRoles(*p, "kjj", {auth::kService}).code(),
            absl::StatusCode::kPermissionDenied);
  auth::Principal platform{"assembler", "*", {"service"}, "service", ""};
  issued = authn.tokens().Issue(platform, absl::ZeroDuration());
  ASSERT_TRUE(issued.ok());
  p = authn.AuthenticateToken(issued->secret);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->HasRole(auth::kService));
}

}  // namespace
}  // namespace govreport
