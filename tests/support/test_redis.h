// The Redis a suite runs on: its own redis-server, or, in a test program
// built with GOVREPORT_TEST_ON_CLUSTER, the program's shared six-node
// cluster, flushed for each test. The same tests then prove that every
// script touches one slot and every call is routed to it.
#ifndef GOVREPORT_TESTS_SUPPORT_TEST_REDIS_H_
#define GOVREPORT_TESTS_SUPPORT_TEST_REDIS_H_

#include "common/redis.h"
#include "redis_cluster.h"
#include "redis_server.h"

namespace govreport::testing {

#ifdef GOVREPORT_TEST_ON_CLUSTER
class TestRedis {
 public:
  TestRedis() {
    if (SharedCluster().ok()) {
      redis::Client client(SharedCluster().options());
      flushed_ = client.Command({"FLUSHALL"}).ok();
    }
  }
  bool ok() const { return flushed_; }
  redis::Options options() const { return SharedCluster().options(); }

 private:
  bool flushed_ = false;
};
#else
using TestRedis = RedisServer;
#endif

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_TEST_REDIS_H_
