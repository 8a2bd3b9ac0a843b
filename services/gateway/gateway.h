// The HTTP/JSON gateway (docs/gateway.md): every annotated RPC of every
// govreport service as REST, over cpp-httplib, calling the backends with
// grpc::GenericStub so that one code path serves every unary RPC and one
// every server-streaming RPC (as server-sent events).
#ifndef GOVREPORT_GATEWAY_GATEWAY_H_
#define GOVREPORT_GATEWAY_GATEWAY_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/stream_slots.h"
#include "gateway/rate_limit.h"
#include "gateway/routes.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace govreport::gateway {

struct GatewayOptions {
  // host:port; port 0 picks a free one (Gateway::port()).
  std::string listen = "127.0.0.1:0";
  // PEM files; HTTPS when both are set.
  std::string tls_cert;
  std::string tls_key;
  // Allow plaintext on a non-loopback listener (tokens are still refused
  // there unless the request says X-Forwarded-Proto: https).
  bool insecure = false;
  // Channel per backend: "records", "templates", "approval", "assembler".
  std::map<std::string, std::shared_ptr<grpc::Channel>> backends;
  size_t max_body_bytes = 4 << 20;
  // Requests per second per client IP (the connection's address; behind
  // a proxy, the proxy's); 0: no limit. The bucket holds max(1, rps) requests.
  double rate_limit_rps = 0;
  absl::Duration call_timeout = absl::Seconds(30);
  // SSE comment lines while a stream is quiet, so that a client that went
  // away is noticed (a failed write), and the backend's stream slot freed,
  // within about this long.
  absl::Duration keepalive = absl::Seconds(5);
  int threads = 64;
  // Event streams open at once; each holds one of `threads` until it
  // ends, so it stays below it. 0: threads / 2.
  int max_streams = 0;
};

// Which backend serves a gRPC service ("govreport.records.v1.OrgService"
// → "records").
std::string BackendFor(absl::string_view service_full_name);

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(GatewayOptions options);
  ~Gateway();
  int port() const { return port_; }
  const std::vector<Route>& routes() const { return routes_; }
  // Stops accepting, ends the streams, joins the server thread.
  void Stop();

 private:
  Gateway() = default;
  void Install();
  // Serve, then its metrics and access log line.
  void Handle(const httplib::Request& req, httplib::Response& res);
  // Answers the request; *route: the route it matched, or null.
  void Serve(const httplib::Request& req, httplib::Response& res, const std::string& request_id,
             const Route** route);
  // The checks before a route is looked at: rate limit, plaintext tokens.
  bool Admit(const httplib::Request& req, httplib::Response& res);
  void CallUnary(const Route& route, const std::string& request, grpc::ClientContext& ctx,
                 httplib::Response& res);
  void CallStreaming(const Route& route, const std::string& request,
                     std::unique_ptr<grpc::ClientContext> ctx, StreamSlots::Slot slot,
                     httplib::Response& res);
  void Healthz(const httplib::Request& req, httplib::Response& res);
  void Readyz(const httplib::Request& req, httplib::Response& res);
  std::unique_ptr<grpc::ClientContext> Context(const httplib::Request& req,
                                               const std::string& request_id, bool deadline) const;

  // What a route calls, resolved at Start: routes_[i] → backends_[i].
  struct Backend {
    std::string name;  // "records"
    std::unique_ptr<grpc::GenericStub> stub;
  };
  const Backend& BackendOf(const Route& route) const { return backends_[&route - routes_.data()]; }

  GatewayOptions options_;
  std::vector<Route> routes_;
  std::vector<Backend> backends_;
  std::string openapi_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<StreamSlots> slots_;
  bool refuse_plaintext_tokens_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  int port_ = 0;
};

}  // namespace govreport::gateway

#endif  // GOVREPORT_GATEWAY_GATEWAY_H_
