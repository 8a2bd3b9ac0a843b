// Redis Cluster routing of redis::Client against a real six-node cluster
// (tests/support/redis_cluster.h): slots as the servers compute them,
// commands and pipelines on the right masters, a slot migrated by hand
// (ASK, then MOVED), and a failover followed.
#include "common/redis_cluster.h"

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/redis.h"
#include "gtest/gtest.h"
#include "redis_cluster.h"
#include "redis_stats.h"

namespace govreport {
namespace {

using testing::RedisCluster;

// calls=N of one command in a node's INFO commandstats.
int64_t CommandCalls(const RedisCluster& cluster, int port, absl::string_view command) {
  auto info = cluster.On(port, {"INFO", "commandstats"});
  if (!info.ok()) return -1;
  const auto calls = testing::CommandCalls(info->Str());
  const auto it = calls.find(command);
  return it == calls.end() ? 0 : it->second;
}

TEST(KeySlotTest, SpecValues) {
  EXPECT_EQ(redis::Crc16("123456789"), 0x31C3);
  EXPECT_EQ(redis::KeySlot("somekey"), 11058);
  EXPECT_EQ(redis::KeySlot("foo{hash_tag}"), 2515);
  EXPECT_EQ(redis::KeySlot("bar{hash_tag}"), 2515);
  // An empty tag is no tag; only the first {...} counts.
  EXPECT_EQ(redis::KeySlot("foo{}{bar}"), redis::Crc16("foo{}{bar}") & 16383);
  EXPECT_EQ(redis::KeySlot("foo{{bar}}zap"), redis::KeySlot("{bar"));
  EXPECT_EQ(redis::KeySlot("foo{bar}{zap}"), redis::KeySlot("bar"));
}

TEST(KeySlotTest, RoutingKeyByPosition) {
  EXPECT_EQ(*redis::RoutingKey({"GET", "k"}), "k");
  EXPECT_EQ(*redis::RoutingKey({"EVALSHA", "abc", "2", "k1", "k2", "a"}), "k1");
  EXPECT_FALSE(redis::RoutingKey({"EVALSHA", "abc", "0", "a"}).has_value());
  EXPECT_EQ(
      *redis::RoutingKey({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"}),
      "s");
  EXPECT_EQ(*redis::RoutingKey({"XGROUP", "CREATE", "s", "g", "0"}), "s");
  EXPECT_FALSE(redis::RoutingKey({"WAIT", "1", "0"}).has_value());
  EXPECT_FALSE(redis::RoutingKey({"PING"}).has_value());
}

class RedisClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(cluster_->ok()); }
  static RedisCluster* cluster_;
};
RedisCluster* RedisClusterTest::cluster_ = nullptr;

TEST_F(RedisClusterTest, SlotsAgreeWithTheServer) {
  int port = cluster_->node(0).port();
  for (int i = 0; i < 500; ++i) {
    std::string key =
        i % 3 == 0 ? absl::StrCat("org:{o", i, "}:records") : absl::StrCat("k", i * 7919);
    auto slot = cluster_->On(port, {"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(slot.ok()) << slot.status();
    EXPECT_EQ(redis::KeySlot(key), slot->Int()) << key;
  }
}

TEST_F(RedisClusterTest, CommandsGoToTheSlotsMaster) {
  redis::Client client(cluster_->options());
  std::set<int> masters;
  for (int i = 0; i < 300; ++i) {
    std::string key = absl::StrCat("route:", i);
    ASSERT_TRUE(client.Command({"SET", key, absl::StrCat(i)}).ok()) << key;
    auto master = cluster_->MasterOf(key);
    ASSERT_TRUE(master.ok());
    masters.insert(*master);
    // The master itself has it: no redirect involved in this read.
    auto direct = cluster_->On(*master, {"GET", key});
    ASSERT_TRUE(direct.ok()) << direct.status();
    EXPECT_EQ(direct->Str(), absl::StrCat(i));
  }
  EXPECT_EQ(masters.size(), 3u);  // The keys spread over every master.
  EXPECT_TRUE(client.Ping().ok());
}

TEST_F(RedisClusterTest, PipelineAcrossNodesKeepsOrder) {
  redis::Client client(cluster_->options());
  std::vector<redis::Args> cmds;
  for (int i = 0; i < 200; ++i) {
    std::string key = absl::StrCat("pipe:", i);
    cmds.push_back({"SET", key, absl::StrCat("v", i)});
    cmds.push_back({"GET", key});
    cmds.push_back({"INCRBY", absl::StrCat("pipe:n:", i), absl::StrCat(i)});
  }
  // A transaction of one org's keys and a WAIT after it stay together.
  cmds.push_back({"MULTI"});
  cmds.push_back({"SET", "{org7}:a", "1"});
  cmds.push_back({"INCR", "{org7}:b"});
  cmds.push_back({"EXEC"});
  cmds.push_back({"WAIT", "1", "0"});
  auto replies = client.Pipeline(cmds);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), cmds.size());
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ((*replies)[3 * i + 1].Str(), absl::StrCat("v", i));
    EXPECT_EQ((*replies)[3 * i + 2].Int(), i);
  }
  const redis::Reply& exec = (*replies)[cmds.size() - 2];
  ASSERT_EQ(exec.Size(), 2u);
  EXPECT_EQ(exec[1].Int(), 1);
  EXPECT_EQ((*replies)[cmds.size() - 1].Int(), 1);  // One replica acknowledged.
}

TEST_F(RedisClusterTest, ScriptsRunOnTheirKeysNodeAfterScriptFlush) {
  redis::Client client(cluster_->options());
  redis::Script script("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
  std::vector<redis::ScriptCall> calls;
  calls.reserve(60);
  for (int i = 0; i < 60; ++i) calls.push_back({{absl::StrCat("{s", i, "}:x")}, {absl::StrCat(i)}});
  auto first = client.EvalPipeline(script, calls);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(client.Command({"SCRIPT", "FLUSH"}).ok());  // Every master forgets it.
  auto second = client.EvalPipeline(script, calls);
  ASSERT_TRUE(second.ok()) << second.status();
  for (int i = 0; i < 60; ++i) EXPECT_EQ((*second)[i].Str(), absl::StrCat(i));
  auto one = client.Eval(script, {"{s1}:y"}, {"z"});
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->Str(), "z");
}

TEST_F(RedisClusterTest, LeasesAndDedicatedConnectionsGoToTheKeysMaster) {
  redis::Client client(cluster_->options());
  for (int i = 0; i < 30; ++i) {
    std::string key = absl::StrCat("{lease", i, "}:k");
    auto lease = client.Acquire(key);
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE((*lease)->Command({"SET", key, "1"}).ok()) << key;  // No MOVED.
    auto dedicated = client.OpenDedicated(key);
    ASSERT_TRUE(dedicated.ok());
    EXPECT_TRUE((*dedicated)->Command({"GET", key}).ok());
  }
}

TEST_F(RedisClusterTest, WriteScriptsWaitForTheirReplicas) {
  redis::Options o = cluster_->options();
  o.wait_replicas = 1;
  redis::Client client(o);
  redis::Script write("return redis.call('INCR', KEYS[1])", redis::Script::kWrites);
  std::vector<redis::ScriptCall> calls;
  calls.reserve(30);
  for (int i = 0; i < 30; ++i) calls.push_back({{absl::StrCat("{w", i, "}:n")}, {}});
  const std::string probe = "{w0}:n";
  int master = *cluster_->MasterOf(probe);
  int64_t waits = CommandCalls(*cluster_, master, "wait");
  auto replies = client.EvalPipeline(write, calls);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), calls.size());  // The WAIT replies are not the caller's.
  EXPECT_EQ((*replies)[0].Int(), 1);
  EXPECT_GT(CommandCalls(*cluster_, master, "wait"), waits);  // On the key's own master.
  // Two replicas are asked for and each master has one: the write ran, but
  // is not acknowledged.
  o.wait_replicas = 2;
  o.wait_timeout = absl::Milliseconds(50);
  redis::Client strict(o);
  auto refused = strict.Eval(write, {probe}, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Command({"GET", probe})->Str(), "2");
  // A read script never waits.
  redis::Script read("return redis.call('GET', KEYS[1])");
  EXPECT_TRUE(strict.Eval(read, {probe}, {}).ok());
}

// A slot moved by hand: while it migrates, a key already moved is found by
// -ASK (ASKING on the target); once the slot is the target's, -MOVED
// makes the client read the map again.
TEST(RedisClusterMigrationTest, FollowsAskThenMoved) {
  RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  redis::Client client(cluster.options());
  const std::string key = "{mig}:a";
  const std::string slot = absl::StrCat(redis::KeySlot(key));
  ASSERT_TRUE(client.Command({"SET", key, "before"}).ok());
  int source = *cluster.MasterOf(key);
  int target = source;
  for (size_t i = 0; i < cluster.size() && target == source; ++i) {
    auto other = cluster.MasterOf(absl::StrCat("other", i));
    if (other.ok() && *other != source) target = *other;
  }
  ASSERT_NE(target, source);
  std::string source_id = *cluster.NodeId(source);
  std::string target_id = *cluster.NodeId(target);
  ASSERT_TRUE(cluster.On(target, {"CLUSTER", "SETSLOT", slot, "IMPORTING", source_id}).ok());
  ASSERT_TRUE(cluster.On(source, {"CLUSTER", "SETSLOT", slot, "MIGRATING", target_id}).ok());
  ASSERT_TRUE(
      cluster
          .On(source, {"MIGRATE", "127.0.0.1", absl::StrCat(target), "", "0", "5000", "KEYS", key})
          .ok());
  int64_t asking_before = CommandCalls(cluster, target, "asking");
  auto during = client.Command({"GET", key});
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->Str(), "before");
  // A new key of the migrating slot is created on the target, by ASK too.
  ASSERT_TRUE(client.Command({"SET", "{mig}:b", "new"}).ok());
  EXPECT_EQ(CommandCalls(cluster, target, "asking"), asking_before + 2);
  for (const auto* port : {&source, &target}) {
    ASSERT_TRUE(cluster.On(*port, {"CLUSTER", "SETSLOT", slot, "NODE", target_id}).ok());
  }
  auto after = client.Pipeline({{"GET", key}, {"GET", "{mig}:b"}});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)[0].Str(), "before");
  EXPECT_EQ((*after)[1].Str(), "new");
  EXPECT_EQ(CommandCalls(cluster, target, "asking"), asking_before + 2);  // MOVED, not ASK.
  EXPECT_GE(CommandCalls(cluster, target, "cluster|slots"), 1);           // The map was read again.
}

// A replica takes over (CLUSTER FAILOVER, then a master killed): writes
// acknowledged by a replica (WAIT 1) are there afterwards, and the client
// follows without being told.
TEST(RedisClusterFailoverTest, FollowsManualFailoverAndADeadMaster) {
  RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  redis::Client client(cluster.options());
  const std::string key = "{fo}:k";
  auto set = client.Pipeline({{"SET", key, "1"}, {"WAIT", "1", "1000"}});
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ((*set)[1].Int(), 1);
  int old_master = *cluster.MasterOf(key);
  int replica = *cluster.ReplicaOf(old_master);
  ASSERT_TRUE(cluster.On(replica, {"CLUSTER", "FAILOVER"}).ok());
  ASSERT_TRUE(cluster.WaitHealthy(absl::Seconds(30)));
  while (cluster.MasterOf(key).value_or(0) != replica) absl::SleepFor(absl::Milliseconds(50));
  auto incr = client.Command({"INCR", key});  // MOVED by the old master, now a replica.
  ASSERT_TRUE(incr.ok()) << incr.status();
  EXPECT_EQ(incr->Int(), 2);
  ASSERT_TRUE(client.Pipeline({{"INCR", key}, {"WAIT", "1", "1000"}}).ok());

  // Now the new master dies.
  cluster.NodeByPort(replica)->Kill();
  absl::Status first = client.Command({"INCR", key}).status();
  // The pooled connection to the dead node may fail the first call (it is
  // not sent again: it may have run); the next waits for the promotion.
  absl::StatusOr<redis::Reply> next = client.Command({"GET", key});
  ASSERT_TRUE(next.ok()) << next.status() << " (first call: " << first << ")";
  EXPECT_EQ(next->Str(), first.ok() ? "4" : "3");
  EXPECT_NE(cluster.MasterOf(key).value_or(replica), replica);
}

}  // namespace
}  // namespace govreport
