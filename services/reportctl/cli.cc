#include "reportctl/cli.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/crypto.h"
#include "common/status.h"
#include "common/tls.h"

namespace govreport::cli {

std::shared_ptr<grpc::Channel> Context::Channel(const std::string& service) {
  auto it = channels_.find(service);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  // gRPC waits up to 2 minutes between connection attempts to a server
  // that is away; a watch that reconnects to a restarted assembler should
  // find it within seconds.
  channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      DialFromFlags(*flags_, flags_->Get(service), channel_args);
  if (!channel.ok()) {
    // Main checked the TLS files before the command ran: they changed since.
    std::cerr << "error: " << channel.status().message() << "\n";
    std::exit(kUsage);
  }
  channels_[service] = *channel;
  return *channel;
}

void Context::Prepare(grpc::ClientContext& ctx) {
  auth::AttachToken(ctx, flags_->Get("token"));
  int64_t ms = flags_->GetInt("timeout-ms").value_or(30000);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

int Fail(const grpc::Status& status) {
  grpc::StatusCode code = status.error_code();
  std::cerr << "error: " << GrpcCodeName(code) << ": " << status.error_message() << "\n";
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return kUnavailable;
  }
  return code == grpc::StatusCode::INVALID_ARGUMENT ? kUsage : kRpcError;
}

int Fail(const absl::Status& status) { return Fail(ToGrpcStatus(status)); }

int UsageError(const Command& command, const std::string& why) {
  std::cerr << "error: " << why << "\nusage: reportctl " << command.path << " " << command.usage
            << "\n";
  return kUsage;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void PrintJson(const google::protobuf::Message& message) { std::cout << ToJson(message); }

int DisplayWidth(const std::string& s) {
  int width = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    width += len >= 3 ? 2 : 1;  // CJK and full-width punctuation.
    i += len;
  }
  return width;
}

void Table::Print() const {
  std::vector<int> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(headers_);
  for (const auto& r : rows_) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print(headers_);
  for (const auto& r : rows_) print(r);
}

std::string OrgName(const std::string& org) {
  return org.rfind("orgs/", 0) == 0 ? org : absl::StrCat("orgs/", org);
}

bool ReadInput(const std::string& path, std::string* out) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    ss << in.rdbuf();
  }
  *out = ss.str();
  return true;
}

std::string NewRequestId() { return absl::StrCat("cli-", RandomHex(12)); }

std::string RequestId(Context& c) {
  std::string rid = c.flags().Get("request-id");
  return rid.empty() ? NewRequestId() : rid;
}

void AddCommand(std::vector<Command>& commands, std::string path, std::string usage,
                std::string help, std::vector<CommandFlag> flags, CommandFn fn) {
  Command cmd{std::move(path), std::move(usage), std::move(help), std::move(flags), nullptr};
  // The copy in the closure names the command in its usage errors.
  cmd.run = [fn, cmd](Context& c) { return fn(c, cmd); };
  commands.push_back(std::move(cmd));
}

}  // namespace govreport::cli
