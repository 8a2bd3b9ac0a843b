// The Redis client and the stream queue against a real redis-server.
#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/redis.h"
#include "common/streams.h"
#include "gtest/gtest.h"
#include "redis_server.h"

namespace govreport {
namespace {

using testing::RedisServer;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }
  RedisServer server_;
};

TEST(RedisUrlTest, ParsesForms) {
  auto o = redis::ParseUrl("redis://app:secret@10.0.0.5:6380/3");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->username, "app");
  EXPECT_EQ(o->password, "secret");
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 3);
  EXPECT_EQ(redis::ParseUrl("unix:///run/redis.sock")->unix_socket, "/run/redis.sock");
  EXPECT_FALSE(redis::ParseUrl("http://x").ok());
  EXPECT_FALSE(redis::ParseUrl("redis://h:port").ok());
}

TEST_F(RedisClientTest, CommandsAndPipeline) {
  redis::Client client(server_.options());
  ASSERT_TRUE(client.Command({"SET", "k", "v"}).ok());
  auto r = client.Command({"GET", "k"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Str(), "v");
  auto replies = client.Pipeline({{"INCR", "n"}, {"INCR", "n"}, {"LPUSH", "k", "x"}});
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ((*replies)[1].Int(), 2);
  EXPECT_TRUE((*replies)[2].IsError());  // WRONGTYPE stays in the vector.
  auto err = client.Command({"LPUSH", "k", "x"});
  EXPECT_FALSE(err.ok());
}

TEST_F(RedisClientTest, ScriptSurvivesScriptFlush) {
  redis::Client client(server_.options());
  redis::Script script("return tonumber(ARGV[1]) * 2");
  auto r = client.Eval(script, {}, {"21"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Int(), 42);
  ASSERT_TRUE(client.Command({"SCRIPT", "FLUSH"}).ok());
  auto many = client.EvalPipeline(script, {{{}, {"1"}}, {{}, {"2"}}});
  ASSERT_TRUE(many.ok());
  EXPECT_EQ((*many)[0].Int(), 2);
  EXPECT_EQ((*many)[1].Int(), 4);
}

TEST_F(RedisClientTest, RecoversAfterRedisRestart) {
  redis::Client client(server_.options());
  ASSERT_TRUE(client.Ping().ok());
  server_.Kill();
  EXPECT_FALSE(client.Ping().ok());  // Fails fast, does not hang.
  ASSERT_TRUE(server_.Restart());
  // The broken connection was dropped; the next call opens a new one.
  absl::Status st;
  for (int i = 0; i < 3 && !(st = client.Ping()).ok(); ++i) {
  }
  EXPECT_TRUE(st.ok()) << st;
}

TEST_F(RedisClientTest, PoolServesManyThreads) {
  redis::Options o = server_.options();
  o.pool_size = 4;
  redis::Client client(o);
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) ASSERT_TRUE(client.Command({"INCR", "c"}).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(client.Command({"GET", "c"})->Str(), "1600");
}

streams::ConsumerOptions Opts(const std::string& consumer) {
  streams::ConsumerOptions o;
  o.stream = "jobs";
  o.group = "workers";
  o.consumer = consumer;
  o.block = absl::Milliseconds(50);
  o.claim_idle = absl::Milliseconds(100);
  o.max_deliveries = 3;
  o.attempts = 1;
  return o;
}

TEST_F(RedisClientTest, StreamDeliversAcksAndReclaims) {
  redis::Client client(server_.options());
  streams::Consumer a(&client, Opts("a"));
  ASSERT_TRUE(a.EnsureGroup().ok());
  ASSERT_TRUE(a.EnsureGroup().ok());  // Idempotent.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(streams::Add(client, "jobs", {{"n", absl::StrCat(i)}}).ok());
  }
  // Consumer a takes everything and "dies" without acking.
  auto taken = a.ReadNew();
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 5u);
  // Consumer b reclaims them after claim_idle and finishes them.
  absl::SleepFor(absl::Milliseconds(150));
  streams::Consumer b(&client, Opts("b"));
  std::set<std::string> done;
  auto handled = b.Poll([&](const streams::Entry& e) {
    EXPECT_EQ(e.deliveries, 2);
    done.insert(e.Get("n"));
    return streams::HandlerResult::Done();
  });
  ASSERT_TRUE(handled.ok()) << handled.status();
  EXPECT_EQ(done.size(), 5u);
  auto pending = client.Command({"XPENDING", "jobs", "workers"});
  EXPECT_EQ((*pending)[0].Int(), 0);
}

TEST_F(RedisClientTest, StreamDeadLettersAfterMaxDeliveries) {
  redis::Client client(server_.options());
  streams::Consumer c(&client, Opts("c"));
  ASSERT_TRUE(c.EnsureGroup().ok());
  ASSERT_TRUE(streams::Add(client, "jobs", {{"n", "poison"}}).ok());
  int calls = 0, dead = 0;
  auto handler = [&](const streams::Entry&) {
    ++calls;
    return streams::HandlerResult::Retry(absl::InternalError("boom"));
  };
  for (int round = 0; round < 10 && dead == 0; ++round) {
    (void)c.Poll(handler, [&](const streams::Entry&, const absl::Status&) { ++dead; });
    absl::SleepFor(absl::Milliseconds(120));
  }
  EXPECT_EQ(dead, 1);
  EXPECT_EQ(calls, 3);
  auto len = client.Command({"XLEN", "jobs:dead"});
  EXPECT_EQ(len->Int(), 1);
  auto pending = client.Command({"XPENDING", "jobs", "workers"});
  EXPECT_EQ((*pending)[0].Int(), 0);
  // A permanently bad entry goes at once.
  ASSERT_TRUE(streams::Add(client, "jobs", {{"n", "bad"}}).ok());
  (void)c.Poll([](const streams::Entry&) {
    return streams::HandlerResult::Reject(absl::InvalidArgumentError("bad"));
  });
  EXPECT_EQ(client.Command({"XLEN", "jobs:dead"})->Int(), 2);
}

std::vector<std::string> Ids(redis::Client& client, const std::string& stream) {
  std::vector<std::string> out;
  auto r = client.Command({"XRANGE", stream, "-", "+"});
  EXPECT_TRUE(r.ok()) << r.status();
  for (size_t i = 0; r.ok() && i < r->Size(); ++i) out.push_back((*r)[i][0].AsString());
  return out;
}

// Two groups read one stream: what both acknowledged goes, an entry
// pending in either stays (and what follows it), as does what a group has
// not been given yet; the retention keeps acknowledged entries that are
// younger than it.
TEST_F(RedisClientTest, TrimRemovesWhatEveryGroupAcknowledgedAndKeepsPendingEntries) {
  redis::Client client(server_.options());
  streams::ConsumerOptions fast = Opts("f");
  streams::ConsumerOptions slow = Opts("s");
  slow.group = "auditors";
  streams::Consumer f(&client, fast);
  streams::Consumer a(&client, slow);
  ASSERT_TRUE(f.EnsureGroup().ok());
  ASSERT_TRUE(a.EnsureGroup().ok());
  std::vector<std::string> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i) ids.push_back(*streams::Add(client, "jobs", {{"n", "x"}}));
  auto done = [](const streams::Entry&) { return streams::HandlerResult::Done(); };
  // "workers" handles all six. "auditors" reads four: it acknowledges the
  // first two, the third stays pending (its consumer died), the fourth is
  // acknowledged; it has not been given the last two.
  ASSERT_EQ(*f.Poll(done), 6);
  slow.batch = 4;
  streams::Consumer a4(&client, slow);
  auto got = a4.ReadNew();
  ASSERT_TRUE(got.ok() && got->size() == 4u);
  for (int i : {0, 1, 3}) ASSERT_TRUE(a4.Ack(ids[i]).ok());

  // Within the retention nothing goes.
  EXPECT_EQ(*streams::TrimConsumed(client, "jobs", absl::Hours(1)), 0);
  EXPECT_EQ(Ids(client, "jobs").size(), 6u);
  // Past it (a second on, all six were added in the same millisecond): the
  // two entries both groups acknowledged.
  absl::Time later = absl::Now() + absl::Seconds(1);
  EXPECT_EQ(*streams::TrimConsumed(client, "jobs", absl::ZeroDuration(), later), 2);
  EXPECT_EQ(Ids(client, "jobs"), std::vector<std::string>(ids.begin() + 2, ids.end()));
  // The pending entry is still there to be reclaimed and handled.
  absl::SleepFor(absl::Milliseconds(150));
  auto reclaimed = a.ClaimAbandoned();
  ASSERT_TRUE(reclaimed.ok() && reclaimed->size() == 1u);
  EXPECT_EQ(reclaimed->front().id, ids[2]);
  ASSERT_TRUE(a.Ack(ids[2]).ok());
  // Now everything up to the last entry "auditors" was given goes.
  EXPECT_EQ(*streams::TrimConsumed(client, "jobs", absl::ZeroDuration(), later), 2);
  EXPECT_EQ(Ids(client, "jobs"), std::vector<std::string>(ids.begin() + 4, ids.end()));
  // A stream no group reads keeps its retention; a missing one is fine.
  ASSERT_TRUE(streams::Add(client, "events", {{"n", "x"}}).ok());
  EXPECT_EQ(*streams::TrimConsumed(client, "events", absl::Hours(1)), 0);
  EXPECT_EQ(*streams::TrimConsumed(client, "events", absl::ZeroDuration(),
                                   absl::Now() + absl::Seconds(1)),
            1);
  // Nothing a group still needs goes, however old.
  EXPECT_EQ(*streams::TrimConsumed(client, "jobs", absl::ZeroDuration(), later + absl::Hours(1)),
            0);
  EXPECT_EQ(*streams::TrimConsumed(client, "nothing", absl::ZeroDuration()), 0);
}

// redis://user:password@host:port logs in as that ACL user (AUTH user
// password), with the ACL the deployment uses (deploy/redis/users.acl.template,
// loaded here with ACL SETUSER): a service's user is refused FLUSHALL and KEYS.
TEST_F(RedisClientTest, UrlCredentialsLogInAsTheAclUser) {
  std::ifstream in(std::string(GOVREPORT_SOURCE_DIR) + "/deploy/redis/users.acl.template");
  std::stringstream acl;
  acl << in.rdbuf();
  redis::Client admin(server_.options());
  std::vector<std::string> users;
  for (absl::string_view line : absl::StrSplit(acl.str(), '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "user ") || absl::StartsWith(line, "user default ")) continue;
    redis::Args args = {"ACL", "SETUSER"};
    for (absl::string_view word : absl::StrSplit(line.substr(5), ' ', absl::SkipEmpty())) {
      args.push_back(absl::StrReplaceAll(word, {{"_PASSWORD@", ""}, {">@", ">pw-"}}));
    }
    users.push_back(args[2]);
    auto r = admin.Command(args);
    ASSERT_TRUE(r.ok()) << line << ": " << r.status();
  }
  ASSERT_EQ(users.size(), 5u);  // admin and the four services.
  for (const char* user : {"records", "templates", "approval", "assembler"}) {
    auto o = redis::ParseUrl(absl::StrCat("redis://", user, ":pw-", absl::AsciiStrToUpper(user),
                                          "@127.0.0.1:", server_.port()));
    ASSERT_TRUE(o.ok());
    redis::Client client(*o);
    EXPECT_TRUE(client.Ping().ok()) << user;
    EXPECT_TRUE(client.Command({"HGET", "gr:{kjj}:org", "d"}).ok()) << user;
    // Were this the password-only AUTH of the default user, FLUSHALL would run.
    for (const redis::Args& cmd : std::vector<redis::Args>{
             {"FLUSHALL"}, {"KEYS", "*"}, {"CONFIG", "GET", "*"}, {"HGET", "other", "d"}}) {
      auto r = client.Command(cmd);
      EXPECT_FALSE(r.ok()) << user << " ran " << cmd[0];
      if (!r.ok()) {
        EXPECT_TRUE(absl::StrContains(r.status().message(), "NOPERM")) << r.status();
      }
    }
    o->password = "wrong";
    redis::Client wrong(*o);
    absl::Status st = wrong.Ping();
    EXPECT_FALSE(st.ok());
    EXPECT_TRUE(absl::StrContains(st.message(), "WRONGPASS")) << st;
  }
}

}  // namespace
}  // namespace govreport
