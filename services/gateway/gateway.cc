#include "gateway/gateway.h"

#include <grpcpp/generic/generic_stub.h>
#include <httplib.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/status.h"
#include "common/tls.h"
#include "gateway/openapi.h"
#include "gateway/transcode.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "internal/grpc/health/v1/health.grpc.pb.h"

namespace govreport::gateway {
namespace {

namespace pb = google::protobuf;

constexpr char kJson[] = "application/json";

void Reply(httplib::Response& res, const grpc::Status& status, int http = 0) {
  res.status = http != 0 ? http : HttpStatusFor(status.error_code());
  res.set_content(ErrorJson(status, res.status), kJson);
}

// What HTTP clients read of a backend's error. A govreport service's own
// error (it carries google.rpc details) goes through as it is. One without
// details came from gRPC's transport (a backend down, no answer in time):
// its text names addresses and socket errors, so it goes to the log and
// the client reads which service failed, with a reason.
grpc::Status FromBackend(const grpc::Status& status, absl::string_view backend) {
  if (status.ok() || !status.error_details().empty()) return status;
  absl::Status upstream = FromGrpcStatus(status);
  // Another code (INTERNAL from the transport, say) is hidden behind an
  // error id by ToGrpcStatus itself when it is internal.
  if (upstream.code() != absl::StatusCode::kUnavailable &&
      upstream.code() != absl::StatusCode::kDeadlineExceeded) {
    return ToGrpcStatus(upstream);
  }
  LogError("gateway", absl::StrCat(backend, ": ", GrpcCodeName(status.error_code()), " ",
                                   status.error_message()));
  bool timeout = upstream.code() == absl::StatusCode::kDeadlineExceeded;
  absl::Status shown(
      upstream.code(),
      absl::StrCat("the ", backend, " service ",
                   timeout ? "did not answer in time" : "is unavailable", "; retry later"));
  return ToGrpcStatus(errors::WithReason(
      std::move(shown), timeout ? "BACKEND_TIMEOUT" : "BACKEND_UNAVAILABLE",
      absl::StrCat(backend, " 服务", timeout ? "未及时响应" : "暂不可用", "，请稍后重试")));
}

// The answer of an HTTP status httplib sets itself.
struct HttpError {
  int http = 0;
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
  const char* reason = "";
  const char* message = "";
};
const HttpError& HttpErrorFor(int http) {
  static constexpr HttpError kErrors[] = {
      {400, grpc::StatusCode::INVALID_ARGUMENT, "BAD_REQUEST", "the request could not be read"},
      {404, grpc::StatusCode::NOT_FOUND, "NO_ROUTE", "no route for this path"},
      {405, grpc::StatusCode::UNIMPLEMENTED, "METHOD_NOT_ALLOWED", "method not allowed"},
      {413, grpc::StatusCode::RESOURCE_EXHAUSTED, "BODY_TOO_LARGE",
       "the body is over the gateway's --max-body-bytes"},
      {414, grpc::StatusCode::RESOURCE_EXHAUSTED, "URI_TOO_LONG", "the request URI is too long"},
      {416, grpc::StatusCode::OUT_OF_RANGE, "RANGE_NOT_SATISFIABLE",
       "the requested range is not satisfiable"},
      {431, grpc::StatusCode::RESOURCE_EXHAUSTED, "HEADERS_TOO_LARGE",
       "the request's header fields are too large"},
  };
  static constexpr HttpError kOtherClient{0, grpc::StatusCode::INVALID_ARGUMENT, "BAD_REQUEST",
                                          "the request could not be served"};
  static constexpr HttpError kOtherServer{0, grpc::StatusCode::INTERNAL, "INTERNAL",
                                          "internal error"};
  for (const HttpError& e : kErrors) {
    if (e.http == http) return e;
  }
  return http >= 500 ? kOtherServer : kOtherClient;
}

// A refusal a later call may not meet (429, 503): Retry-After from its
// RetryInfo too, for HTTP clients that read only that.
void ReplyRetryable(httplib::Response& res, const grpc::Status& status) {
  google::rpc::Status details;
  if (details.ParseFromString(status.error_details())) {
    for (const pb::Any& any : details.details()) {
      google::rpc::RetryInfo retry;
      if (any.UnpackTo(&retry)) {
        int64_t s = retry.retry_delay().seconds() + (retry.retry_delay().nanos() > 0 ? 1 : 0);
        res.set_header("Retry-After", std::to_string(std::max<int64_t>(1, s)));
      }
    }
  }
  Reply(res, status);
}

// The last event of a stream the gateway ends as it stops: an error, not
// `end` (which a client reads as "done"), that tells it to come back
// (to another replica), and the SSE reconnection delay.
std::string StoppingEvent() {
  grpc::Status st =
      ToGrpcStatus(ShuttingDown("reconnect (to another replica)", "请重新连接（或连接其他副本）"));
  return absl::StrCat("retry: 1000\nevent: error\ndata: ", ErrorJson(st), "\n\n");
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// The SSE event of one streamed message: its name is the set field of the
// message's oneof ("event", "heartbeat"), else "message"; its id the
// `cursor` of that field or of the message, if any (StreamEvents: the
// event cursor a client resumes from with Last-Event-ID).
std::string SseEvent(const pb::Message* prototype, const std::string& bytes) {
  const pb::Descriptor* type = prototype->GetDescriptor();
  std::unique_ptr<pb::Message> msg(prototype->New());
  if (!msg->ParseFromString(bytes)) return "";
  const pb::Reflection* r = msg->GetReflection();
  std::string name = "message";
  const pb::Message* with_cursor = msg.get();
  if (type->oneof_decl_count() > 0) {
    const pb::FieldDescriptor* set = r->GetOneofFieldDescriptor(*msg, type->oneof_decl(0));
    if (set != nullptr) {
      name = set->name();
      if (set->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        with_cursor = &r->GetMessage(*msg, set);
      }
    }
  }
  std::string out;
  const pb::FieldDescriptor* cursor = with_cursor->GetDescriptor()->FindFieldByName("cursor");
  if (cursor != nullptr && cursor->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
    std::string id = with_cursor->GetReflection()->GetString(*with_cursor, cursor);
    if (!id.empty()) absl::StrAppend(&out, "id: ", id, "\n");
  }
  absl::StrAppend(&out, "event: ", name, "\ndata: ", ToJson(*msg), "\n\n");
  return out;
}

// One server-streaming call on its own completion queue, driven by the
// HTTP worker thread that serves the stream.
struct Stream {
  std::optional<StreamSlots::Slot> slot;
  std::unique_ptr<grpc::ClientContext> ctx;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  grpc::ByteBuffer in;
  bool read_pending = false;
  bool finished = false;
  grpc::Status status;

  // Waits for the one operation in flight.
  bool Wait() {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  }
  bool closed = false;
  // Ends the call (cancelling it if it is still open) and the queue.
  void Close() {
    if (closed) return;
    closed = true;
    if (call != nullptr && !finished) {
      ctx->TryCancel();
      if (read_pending) Wait();
      call->Finish(&status, this);
      Wait();
      finished = true;
    }
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
    slot.reset();
  }
  ~Stream() { Close(); }
};

enum class Next { kMessage, kEnd, kQuiet };

// Waits up to `slice` for the pending read; kEnd when the stream ended
// (status filled), kMessage with `in` filled.
Next Poll(Stream& s, absl::Duration slice) {
  void* tag = nullptr;
  bool ok = false;
  auto r = s.cq.AsyncNext(&tag, &ok, absl::ToChronoTime(absl::Now() + slice));
  if (r == grpc::CompletionQueue::TIMEOUT) return Next::kQuiet;
  s.read_pending = false;
  if (r == grpc::CompletionQueue::GOT_EVENT && ok) return Next::kMessage;
  s.call->Finish(&s.status, &s);
  s.Wait();
  s.finished = true;
  return Next::kEnd;
}

}  // namespace

std::string BackendFor(absl::string_view service) {
  for (absl::string_view backend : {"templates", "approval", "assembler"}) {
    if (absl::StartsWith(service, absl::StrCat("govreport.", backend, "."))) {
      return std::string(backend);
    }
  }
  // records serves OrgService, IndicatorService, ActivityService,
  // AuthService and EventService.
  return "records";
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(GatewayOptions options) {
  std::unique_ptr<Gateway> g(new Gateway);
  g->options_ = std::move(options);
  const GatewayOptions& o = g->options_;
  size_t colon = o.listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(o.listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("--listen \"", o.listen, "\" is not host:port"));
  }
  std::string host = o.listen.substr(0, colon);
  if (absl::StartsWith(host, "[")) host = host.substr(1, host.size() - 2);
  // The services' rules (common/tls.h): plaintext on an address others
  // reach only with --insecure, and the PEM files checked with errors that
  // name the flag and the file.
  ServerTls tls;
  tls.cert_file = o.tls_cert;
  tls.key_file = o.tls_key;
  tls.allow_insecure = o.insecure;
  if (tls.enabled()) {
    if (absl::Status st = CheckIdentity("tls-cert", o.tls_cert, "tls-key", o.tls_key); !st.ok()) {
      return st;
    }
  }
  if (absl::Status st = CheckListenSecurity(o.listen, tls); !st.ok()) return st;
  // Behind a TLS-terminating proxy (--insecure): tokens only with
  // X-Forwarded-Proto: https.
  g->refuse_plaintext_tokens_ = !tls.enabled() && !IsLoopbackAddress(o.listen);
  absl::StatusOr<std::vector<Route>> routes = BuildRoutes();
  if (!routes.ok()) return routes.status();
  g->routes_ = *std::move(routes);
  for (const Route& r : g->routes_) {
    std::string backend = BackendFor(r.method->service()->full_name());
    auto channel = o.backends.find(backend);
    if (channel == o.backends.end() || channel->second == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("no channel to the ", backend, " service, which serves ", r.rpc_path));
    }
    g->backends_.push_back({backend, std::make_unique<grpc::GenericStub>(channel->second)});
  }
  g->openapi_ = OpenApiJson(g->routes_);
  if (o.rate_limit_rps > 0) g->limiter_ = std::make_unique<RateLimiter>(o.rate_limit_rps);
  int max_streams = o.max_streams > 0 ? o.max_streams : std::max(1, o.threads / 2);
  if (max_streams >= o.threads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-streams ", max_streams, " must be below --threads ", o.threads,
        ": each open stream holds a worker thread, and the others must answer the rest"));
  }
  g->slots_ = std::make_unique<StreamSlots>(
      StreamNames{"event streams through this gateway", "网关事件流", "GATEWAY_STREAM_LIMIT"},
      StreamLimits{max_streams, max_streams, 0});
  if (tls.enabled()) {
    // Loaded once: a renewed certificate needs a restart (docs/gateway.md).
    auto ssl = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load --tls-cert ", o.tls_cert, " / --tls-key ", o.tls_key));
    }
    g->server_ = std::move(ssl);
  } else {
    g->server_ = std::make_unique<httplib::Server>();
  }
  g->Install();
  if (port == 0) {
    g->port_ = g->server_->bind_to_any_port(host);
  } else if (g->server_->bind_to_port(host, port)) {
    g->port_ = port;
  }
  if (g->port_ <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen));
  g->thread_ = std::thread([s = g->server_.get()] { s->listen_after_bind(); });
  return g;
}

Gateway::~Gateway() { Stop(); }

void Gateway::Stop() {
  stopping_ = true;
  if (slots_ != nullptr) {
    slots_->Stop();
    // httplib writes nothing more once it stops, so each open stream gets
    // its SHUTTING_DOWN event out first (its loop wakes every 200 ms).
    slots_->WaitUntilIdle(absl::Seconds(3));
  }
  if (thread_.joinable()) {
    // stop() does nothing before the thread began to listen.
    for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    server_->stop();
    thread_.join();
  }
}

void Gateway::Install() {
  int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_keep_alive_max_count(1000);
  // Without it a response written in two parts waits out the client's
  // delayed ACK (40 ms a request on a kept-alive connection).
  server_->set_tcp_nodelay(true);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);
  server_->Options(".*", handler);
  // What httplib answers itself (413 over --max-body-bytes, 414 for a
  // long URI, 431 for long headers, 400 for a request it cannot read)
  // gets the same JSON error as the gateway's own, its code and reason
  // from the HTTP status.
  server_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // Handle did not run for what httplib refused before routing.
    if (!res.has_header("X-Request-Id")) {
      res.set_header("X-Request-Id", metrics::RequestIdFrom(req.get_header_value("X-Request-Id")));
    }
    if (!res.body.empty()) return;
    const HttpError& e = HttpErrorFor(res.status);
    Reply(res, GatewayError(e.code, e.reason, e.message), res.status);
  });
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        Reply(res, GatewayError(grpc::StatusCode::INTERNAL, "INTERNAL", "internal error"));
      });
}

bool Gateway::Admit(const httplib::Request& req, httplib::Response& res) {
  std::string auth = req.get_header_value("Authorization");
  if (refuse_plaintext_tokens_ && !auth.empty() &&
      absl::AsciiStrToLower(req.get_header_value("X-Forwarded-Proto")) != "https") {
    Reply(res, GatewayError(grpc::StatusCode::PERMISSION_DENIED, "PLAINTEXT_TOKEN",
                            "a bearer token over plaintext HTTP on a non-loopback listener is "
                            "refused: use HTTPS (treat this token as exposed)"));
    return false;
  }
  if (limiter_ != nullptr) {
    // The connection's address: a header (a token, X-Forwarded-For) is
    // the client's to vary, and the token is not checked yet.
    int retry_after = 0;
    if (!limiter_->Allow(req.remote_addr, absl::Now(), &retry_after)) {
      ReplyRetryable(
          res,
          ToGrpcStatus(errors::WithRetry(
              GatewayStatus(grpc::StatusCode::RESOURCE_EXHAUSTED, "RATE_LIMITED",
                            absl::StrCat("over --rate-limit-rps; retry after ", retry_after, " s")),
              absl::Seconds(retry_after))));
      return false;
    }
  }
  return true;
}

std::unique_ptr<grpc::ClientContext> Gateway::Context(const httplib::Request& req,
                                                      const std::string& request_id,
                                                      bool deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  std::string auth = req.get_header_value("Authorization");
  if (!auth.empty()) ctx->AddMetadata("authorization", auth);
  ctx->AddMetadata("x-request-id", request_id);
  if (deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  return ctx;
}

void Gateway::Handle(const httplib::Request& req, httplib::Response& res) {
  absl::Time start = absl::Now();
  // Taken once, for every answer (refusals too) and the access line; an
  // id that is no valid request id is replaced rather than passed on.
  const std::string request_id = metrics::RequestIdFrom(req.get_header_value("X-Request-Id"));
  res.set_header("X-Request-Id", request_id);
  const Route* route = nullptr;
  Serve(req, res, request_id, &route);
  absl::Duration took = absl::Now() - start;
  // httplib makes an untouched status 200 after the handler.
  int status = res.status == -1 ? 200 : res.status;
  std::string rpc = route != nullptr ? route->rpc_path : "";
  metrics::ObserveHttpRequest(req.method, rpc, status, took);
  // The access line: never the Authorization header, nor the query (it
  // may carry page tokens).
  std::string line = LogRecordStart(status >= 500 ? "error" : "info", "gateway",
                                    absl::StrCat(req.method, " ", req.path, " ", status));
  absl::StrAppend(&line, ",\"request_id\":", JsonQuote(request_id), ",\"rpc\":", JsonQuote(rpc),
                  ",\"code\":", status,
                  absl::StrFormat(",\"latency_ms\":%.3f", absl::ToDoubleMilliseconds(took)));
  WriteLogRecord(std::move(line));
}

void Gateway::Serve(const httplib::Request& req, httplib::Response& res,
                    const std::string& request_id, const Route** route) {
  // HEAD is GET without the body (httplib leaves the body out).
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  if (method == "GET" && req.path == "/healthz") return Healthz(req, res);
  if (method == "GET" && req.path == "/readyz") return Readyz(req, res);
  if (method == "GET" && req.path == "/openapi.json") {
    // Written from the one string made at Start, not copied per request.
    res.set_content_provider(openapi_.size(), kJson,
                             [this](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(openapi_.data() + offset, length);
                             });
    return;
  }
  if (!Admit(req, res)) return;
  MatchResult m = MatchRoute(routes_, method, req.path);
  *route = m.route;
  if (m.route == nullptr) {
    if (!m.allowed.empty()) {
      res.set_header("Allow", absl::StrJoin(m.allowed, ", "));
      Reply(res,
            GatewayError(grpc::StatusCode::UNIMPLEMENTED, "METHOD_NOT_ALLOWED",
                         absl::StrCat(method, " is not allowed on ", req.path,
                                      "; allowed: ", absl::StrJoin(m.allowed, ", "))),
            405);
    } else {
      Reply(res, GatewayError(grpc::StatusCode::NOT_FOUND, "NO_ROUTE",
                              absl::StrCat("no route for ", method, " ", req.path)));
    }
    return;
  }
  // From the URL only: httplib also reads a form-encoded body into
  // params, and a body here is JSON whatever its Content-Type says.
  QueryParams query;
  size_t q = req.target.find('?');
  if (q != std::string::npos) httplib::detail::parse_query_text(req.target.substr(q + 1), query);
  RequestError error;
  auto msg = BuildRequest(*m.route, m.bindings, query, req.body, &error);
  if (!msg.ok()) {
    Reply(res, GatewayError(grpc::StatusCode::INVALID_ARGUMENT, "BAD_REQUEST", error.message,
                            error.field));
    return;
  }
  std::string last_id = req.get_header_value("Last-Event-ID");
  if (m.route->server_streaming && !last_id.empty()) {
    if (absl::Status st = SetFieldByPath(**msg, "after_cursor", last_id); !st.ok()) {
      Reply(res, GatewayError(grpc::StatusCode::INVALID_ARGUMENT, "BAD_REQUEST",
                              "Last-Event-ID: this stream cannot resume from a cursor"));
      return;
    }
  }
  std::string bytes = (*msg)->SerializeAsString();
  if (m.route->server_streaming) {
    absl::StatusOr<StreamSlots::Slot> slot = slots_->Acquire("", req.remote_addr);
    if (!slot.ok()) return ReplyRetryable(res, ToGrpcStatus(slot.status()));
    CallStreaming(*m.route, bytes, Context(req, request_id, false), *std::move(slot), res);
  } else {
    CallUnary(*m.route, bytes, *Context(req, request_id, true), res);
  }
}

void Gateway::CallUnary(const Route& route, const std::string& request, grpc::ClientContext& ctx,
                        httplib::Response& res) {
  const Backend& backend = BackendOf(route);
  grpc::ByteBuffer in = ToBuffer(request);
  grpc::ByteBuffer out;
  grpc::Status status;
  absl::Notification done;
  backend.stub->UnaryCall(&ctx, route.rpc_path, grpc::StubOptions(), &in, &out,
                          [&](grpc::Status s) {
                            status = std::move(s);
                            done.Notify();
                          });
  done.WaitForNotification();
  if (!status.ok()) return ReplyRetryable(res, FromBackend(status, backend.name));
  std::string json;
  if (!BytesToJson(route.output_type_url, FromBuffer(out), &json)) {
    return Reply(res, GatewayError(grpc::StatusCode::INTERNAL, "BAD_RESPONSE",
                                   "the backend's answer does not parse"));
  }
  res.body = std::move(json);
  res.set_header("Content-Type", kJson);
}

void Gateway::CallStreaming(const Route& route, const std::string& request,
                            std::unique_ptr<grpc::ClientContext> ctx, StreamSlots::Slot slot,
                            httplib::Response& res) {
  auto s = std::make_shared<Stream>();
  s->slot.emplace(std::move(slot));
  s->ctx = std::move(ctx);
  const std::string& backend = BackendOf(route).name;
  s->call = BackendOf(route).stub->PrepareCall(s->ctx.get(), route.rpc_path, &s->cq);
  s->call->StartCall(s.get());
  bool ok = s->Wait();
  grpc::ByteBuffer in = ToBuffer(request);
  if (ok) s->call->Write(in, s.get()), ok = s->Wait();
  if (ok) s->call->WritesDone(s.get()), ok = s->Wait();
  s->call->Read(&s->in, s.get());
  s->read_pending = true;
  // An error the backend answers at once (a bad token, a bad request:
  // within milliseconds) is an HTTP error, not an event after a 200. A
  // quiet stream gets its 200 after this wait, so it is short.
  Next first = Poll(*s, absl::Milliseconds(250));
  if (first == Next::kEnd && !s->status.ok()) {
    return ReplyRetryable(res, FromBackend(s->status, backend));
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  const pb::Message* type = route.output_prototype;
  auto pending = std::make_shared<Next>(first);
  absl::Duration keepalive = options_.keepalive;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, s, type, pending, keepalive, backend](size_t, httplib::DataSink& sink) {
        absl::Time quiet_since = absl::Now();
        // Slices short enough that Stop() ends a quiet stream promptly.
        while (*pending == Next::kQuiet && !stopping_) {
          if (absl::Now() - quiet_since >= keepalive) {
            if (!sink.write(": keepalive\n\n", 13)) return false;
            quiet_since = absl::Now();
          }
          *pending = Poll(*s, absl::Milliseconds(200));
        }
        if (*pending == Next::kMessage) {
          std::string event = SseEvent(type, FromBuffer(s->in));
          if (!sink.write(event.data(), event.size())) return false;
          s->call->Read(&s->in, s.get());
          s->read_pending = true;
          *pending = Next::kQuiet;
          return true;
        }
        std::string last =
            stopping_ ? StoppingEvent()
            : s->status.ok()
                ? "event: end\ndata: {}\n\n"
                : absl::StrCat("event: error\ndata: ", ErrorJson(FromBackend(s->status, backend)),
                               "\n\n");
        sink.write(last.data(), last.size());
        sink.done();
        return true;
      },
      // The client went away or the stream ended: cancel the call.
      [s](bool) { s->Close(); });
}

void Gateway::Healthz(const httplib::Request&, httplib::Response& res) {
  res.set_content(R"({"status":"SERVING"})", kJson);
}

void Gateway::Readyz(const httplib::Request&, httplib::Response& res) {
  std::string body = "{\"backends\":{";
  bool all = true;
  bool first = true;
  for (const auto& [name, channel] : options_.backends) {
    grpc::health::v1::Health::Stub stub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    grpc::health::v1::HealthCheckRequest hreq;
    grpc::health::v1::HealthCheckResponse hres;
    grpc::Status st = stub.Check(&ctx, hreq, &hres);
    bool serving = st.ok() && hres.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    all = all && serving;
    absl::StrAppend(&body, first ? "" : ",", "\"", name, "\":\"",
                    serving ? "SERVING" : "NOT_SERVING", "\"");
    first = false;
  }
  absl::StrAppend(&body, R"(},"status":")", all ? "SERVING" : "NOT_SERVING", R"("})");
  res.status = all ? 200 : 503;
  res.set_content(body, kJson);
}

}  // namespace govreport::gateway
