// reportctl's shared plumbing: the command table, connections with token and
// deadline, and output as human tables or JSON.
#ifndef GOVREPORT_REPORTCTL_CLI_H_
#define GOVREPORT_REPORTCTL_CLI_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/config.h"

namespace govreport::cli {

// Exit codes scripts can test.
inline constexpr int kOk = 0;
inline constexpr int kRpcError = 1;     // The server refused or failed.
inline constexpr int kUsage = 2;        // Bad command line or input file.
inline constexpr int kPartial = 3;      // Some items of a batch failed.
inline constexpr int kUnavailable = 4;  // Could not reach the server.

class Context {
 public:
  explicit Context(Flags* flags) : flags_(flags) {}
  Flags& flags() { return *flags_; }
  // Words after the command path.
  std::vector<std::string> args;
  bool json() const { return flags_->GetBool("json"); }

  // Channel to "records", "templates", "approval" or "assembler".
  std::shared_ptr<grpc::Channel> Channel(const std::string& service);
  // Attaches the bearer token and the deadline.
  void Prepare(grpc::ClientContext& ctx);

 private:
  Flags* flags_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

struct Command {
  std::string path;   // "activity import"
  std::string usage;  // "ORG FILE [--batch-size N]"
  std::string help;   // One paragraph.
  std::function<int(Context&)> run;
};

void RegisterRecordsCommands(std::vector<Command>& commands);
void RegisterTemplateCommands(std::vector<Command>& commands);
void RegisterReportCommands(std::vector<Command>& commands);
void RegisterApprovalCommands(std::vector<Command>& commands);

// Prints "error: CODE: message" and returns the exit code for it.
int Fail(const grpc::Status& status);
int Fail(const absl::Status& status);
int UsageError(const Command& command, const std::string& why);

// Prints a message as JSON (field names as in the proto).
void PrintJson(const google::protobuf::Message& message);
std::string ToJson(const google::protobuf::Message& message);

// Columns aligned by display width (a CJK character takes two cells).
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Text cells on a terminal line.
int DisplayWidth(const std::string& utf8);

// "orgs/x" from "x" or "orgs/x".
std::string OrgName(const std::string& org);

// The bytes of a file, or of standard input for "-".
bool ReadInput(const std::string& path, std::string* out);

// Random request id, so that a retried command is not applied twice.
std::string NewRequestId();

}  // namespace govreport::cli

#endif  // GOVREPORT_REPORTCTL_CLI_H_
