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

// One flag a command reads, as `reportctl help COMMAND` shows it. Every
// command's flags are accepted by the parser whichever command runs, as
// before; they are listed per command so that help tells which ones matter.
struct CommandFlag {
  std::string name;           // "batch-size"
  std::string default_value;  // As shown; "false" makes a boolean flag (no value).
  std::string help;           // One line.
};

struct Command {
  std::string path;                    // "activity import"
  std::string usage;                   // "ORG FILE [--batch-size N]"
  std::string help;                    // One paragraph.
  std::vector<CommandFlag> flags{};    // The command's own flags (not the global ones).
  std::function<int(Context&)> run{};  // Gets the words after the path in Context::args.
};

// A command's body; it gets its Command to name it in UsageError.
using CommandFn = int (*)(Context&, const Command&);

// The one way every command is registered.
void AddCommand(std::vector<Command>& commands, std::string path, std::string usage,
                std::string help, std::vector<CommandFlag> flags, CommandFn fn);

// The command groups, in the order `reportctl --help` lists them.
void RegisterRecordsCommands(std::vector<Command>& commands);   // records_commands.cc
void RegisterActivityCommands(std::vector<Command>& commands);  // activity_commands.cc
void RegisterTemplateCommands(std::vector<Command>& commands);  // template_commands.cc
void RegisterReportCommands(std::vector<Command>& commands);    // report_commands.cc
void RegisterApprovalCommands(std::vector<Command>& commands);  // approval_commands.cc
void RegisterDocumentCommands(std::vector<Command>& commands);  // docnumber_commands.cc
void RegisterSigningCommands(std::vector<Command>& commands);   // key_commands.cc

// Every command, in that order (dispatch.cc).
std::vector<Command> AllCommands();

// reportctl's main (dispatch.cc): parses the command line, prints help or
// runs the command, and returns the exit code.
int Main(int argc, char** argv);

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

// The request id of a mutating call: --request-id if given, else a new one.
std::string RequestId(Context& c);

}  // namespace govreport::cli

#endif  // GOVREPORT_REPORTCTL_CLI_H_
