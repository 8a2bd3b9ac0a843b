#include "common/parse_errors.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>

#include <deque>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace govreport {
namespace {

namespace gpb = ::google::protobuf;
using grpc::experimental::InterceptionHookPoints;

// The field protobuf's parser last reported as not UTF-8 on this thread. A
// sync server deserializes a request on the thread that then runs the
// interceptor's POST_RECV_MESSAGE, so the two meet here.
thread_local std::string t_bad_utf8_field;

gpb::LogHandler* g_previous_log_handler = nullptr;

// protobuf 3.21 (PrintUTF8ErrorLog): "String field 'pkg.Message.field'
// contains invalid UTF-8 data when parsing a protocol buffer. ..."
void NoteUtf8Errors(gpb::LogLevel level, const char* filename, int line,
                    const std::string& message) {
  constexpr absl::string_view kPrefix = "String field '";
  if (absl::StartsWith(message, kPrefix) && absl::StrContains(message, "when parsing")) {
    size_t end = message.find('\'', kPrefix.size());
    if (end != std::string::npos) {
      t_bad_utf8_field = message.substr(kPrefix.size(), end - kPrefix.size());
    }
  }
  if (g_previous_log_handler != nullptr) g_previous_log_handler(level, filename, line, message);
}

// "requests[].activity.title" for ActivityRecord.title inside a
// BatchCreateActivitiesRequest: the shortest path of field names.
std::string PathTo(const gpb::Descriptor* root, const gpb::FieldDescriptor* target) {
  std::deque<std::pair<const gpb::Descriptor*, std::string>> queue{{root, ""}};
  std::set<const gpb::Descriptor*> seen{root};
  while (!queue.empty()) {
    auto [type, path] = queue.front();
    queue.pop_front();
    for (int i = 0; i < type->field_count(); ++i) {
      const gpb::FieldDescriptor* f = type->field(i);
      std::string p =
          absl::StrCat(path, path.empty() ? "" : ".", f->name(), f->is_repeated() ? "[]" : "");
      if (f == target) return p;
      if (f->message_type() != nullptr && seen.insert(f->message_type()).second) {
        queue.emplace_back(f->message_type(), std::move(p));
      }
    }
  }
  return "";
}

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(const char* method) : method_(method != nullptr ? method : "") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // No message after a receive: the deserializer refused the bytes.
      if (methods->GetRecvMessage() == nullptr) {
        unparsed_ = true;
        bad_field_ = t_bad_utf8_field;
      }
      t_bad_utf8_field.clear();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      // What the handler's own client calls may have left behind.
      t_bad_utf8_field.clear();
      if (unparsed_ && methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
        methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                               ParseErrorMessage(method_, bad_field_)));
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  bool unparsed_ = false;
  std::string bad_field_;
};

class ParseErrorInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // One request message, which the library parses before the handler
    // runs. A client stream's reads end without a message: not a failure.
    using Type = grpc::experimental::ServerRpcInfo::Type;
    if (info->type() != Type::UNARY && info->type() != Type::SERVER_STREAMING) return nullptr;
    return new ParseErrorInterceptor(info->method());
  }
};

}  // namespace

std::string ParseErrorMessage(absl::string_view method, absl::string_view bad_field) {
  // "/pkg.Service/Method" -> "pkg.Service.Method".
  std::string full = absl::StrReplaceAll(absl::StripPrefix(method, "/"), {{"/", "."}});
  const gpb::DescriptorPool* pool = gpb::DescriptorPool::generated_pool();
  const gpb::MethodDescriptor* m = pool->FindMethodByName(full);
  const gpb::FieldDescriptor* f =
      bad_field.empty() ? nullptr : pool->FindFieldByName(std::string(bad_field));
  if (f != nullptr) {
    std::string path = m != nullptr ? PathTo(m->input_type(), f) : "";
    return absl::StrCat(path.empty() ? f->full_name() : path,
                        ": not valid UTF-8; every text field must be UTF-8 (convert the input, "
                        "e.g. iconv -f GBK -t UTF-8)");
  }
  return absl::StrCat("the request is not a valid ",
                      m != nullptr ? m->input_type()->full_name() : "message",
                      " (is every text field UTF-8?)");
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewParseErrorInterceptorFactory() {
  // SetLogHandler is not thread-safe: once, before any server runs.
  static const bool hooked = [] {
    g_previous_log_handler = gpb::SetLogHandler(&NoteUtf8Errors);
    return true;
  }();
  (void)hooked;
  return std::make_unique<ParseErrorInterceptorFactory>();
}

}  // namespace govreport
