// gateway.rps: CreateActivity through the HTTP/JSON gateway, beside the
// same call straight over gRPC (gateway.ingest_unary_rps) in the same run
// against the same records server, and their ratio
// (gateway.ratio_to_grpc). The suite in one process (the assembler's test
// stack). Prints one flat JSON object for scripts/bench.sh.
//   gateway_bench [--quick]
#include <httplib.h>

#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "gateway/gateway.h"
#include "tests/assembler/assembler_stack.h"
#include "tests/bench/throughput.h"

namespace govreport::gateway {
namespace {

// The same record both ways: a talk on a day of 2023, a fresh request id.
std::string Date(int t, int i) { return absl::StrFormat("2023-%02d-%02d", 1 + t % 12, 1 + i % 28); }

int Main(int argc, char** argv) {
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const int threads = 4;
  const int calls = quick ? 300 : 3000;
  assembler::testing::StackOptions so;
  so.workers = 0;
  so.event_workers = 0;
  auto stack = assembler::testing::Stack::Start(so);
  if (!stack.ok()) {
    std::cerr << stack.status() << "\n";
    return 1;
  }
  auto tokens = (*stack)->SetUpOrg("bench");
  if (!tokens.ok()) {
    std::cerr << tokens.status() << "\n";
    return 1;
  }
  GatewayOptions o;
  auto dial = [](int port) {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                               grpc::InsecureChannelCredentials());
  };
  o.backends = {{"records", dial((*stack)->records_port())},
                {"templates", dial((*stack)->templates_port())},
                {"approval", dial((*stack)->approval_port())},
                {"assembler", dial((*stack)->assembler_port())}};
  auto gw = Gateway::Start(o);
  if (!gw.ok()) {
    std::cerr << gw.status() << "\n";
    return 1;
  }
  const std::string token = tokens->recorder;
  std::atomic<int> errors{0};
  auto direct = [&](int t, int i) {
    records::v1::CreateActivityRequest req;
    req.set_parent("orgs/bench");
    req.set_request_id(RandomHex(8));
    auto* a = req.mutable_activity();
    a->set_type("heart_to_heart_talk");
    a->set_occurred_on(Date(t, i));
    a->set_title("谈心谈话");
    a->set_department("办公室");
    (*a->mutable_quantities())["participants"] = 1 + i % 20;
    records::v1::ActivityRecord out;
    auto ctx = assembler::testing::Stack::Ctx(token);
    if (!(*stack)->activities().CreateActivity(ctx.get(), req, &out).ok()) ++errors;
  };
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (int t = 0; t < threads; ++t) {
    clients.push_back(std::make_unique<httplib::Client>("127.0.0.1", (*gw)->port()));
    clients.back()->set_keep_alive(true);
    clients.back()->set_tcp_nodelay(true);
  }
  httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  auto http = [&](int t, int i) {
    std::string body =
        absl::StrCat(R"({"type":"heart_to_heart_talk","occurredOn":")", Date(t, i),
                     R"(","title":"谈心谈话","department":"办公室","quantities":{"participants":)",
                     1 + i % 20, "}}");
    auto res = clients[t]->Post(absl::StrCat("/v1/orgs/bench/activities?requestId=", RandomHex(8)),
                                headers, body, "application/json");
    if (!res || res->status != 200) ++errors;
  };
  // Warm both, then take turns, a quarter of the calls at a time, the
  // gateway first in odd rounds: the org grows as they write, and the
  // machine's noise falls on both alike.
  bench::Throughput(threads, 20, direct);
  bench::Throughput(threads, 20, http);
  bench::SideBySide side = bench::Alternate(threads, calls / threads, 4, direct, http);
  double grpc_rps = side.a_rps;
  double gateway_rps = side.b_rps;
  std::cout << absl::StrFormat(
      "{\"gateway.rps\": %.0f, \"gateway.ingest_unary_rps\": %.0f, "
      "\"gateway.ratio_to_grpc\": %.3f, \"gateway.errors\": %d}\n",
      gateway_rps, grpc_rps, gateway_rps / grpc_rps, errors.load());
  return errors.load() ? 1 : 0;
}

}  // namespace
}  // namespace govreport::gateway

int main(int argc, char** argv) { return govreport::gateway::Main(argc, argv); }
