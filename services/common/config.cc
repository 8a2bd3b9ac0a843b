#include "common/config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status.h"

namespace govreport {

Flags::Flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

Flags& Flags::Define(const std::string& name, std::string default_value, std::string help) {
  if (!flags_.count(name)) order_.push_back(name);
  // Braced: the copy is made before the move (left to right).
  flags_[name] =
      Flag{default_value, std::move(default_value), std::move(help), /*set=*/false, /*given=*/{}};
  return *this;
}

std::string Flags::EnvName(const std::string& name) {
  return "GOVREPORT_" + absl::AsciiStrToUpper(absl::StrReplaceAll(name, {{"-", "_"}}));
}

absl::Status Flags::Parse(int argc, char** argv) {
  for (auto& [name, flag] : flags_) {
    if (const char* env = std::getenv(EnvName(name).c_str())) {
      flag.value = env;
      flag.set = true;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional_.emplace_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see ", program_, " --help)"));
    }
    if (!has_value) {
      // A following word that is not a flag is this flag's value, except
      // for flags whose default says they are booleans.
      bool boolean = it->second.default_value == "false" || it->second.default_value == "true";
      if (!boolean && i + 1 < argc) {
        value = argv[++i];
      } else if (!boolean) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      } else {
        value = "true";
      }
    }
    it->second.value = value;
    it->second.set = true;
    it->second.given.push_back(value);
  }
  return absl::OkStatus();
}

std::string Flags::Get(const std::string& name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? "" : it->second.value;
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) return {};
  if (!it->second.given.empty()) return it->second.given;
  if (it->second.value.empty()) return {};
  return {it->second.value};
}

bool Flags::IsSet(const std::string& name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.set;
}

absl::StatusOr<int64_t> Flags::GetInt(const std::string& name) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, " (or ", EnvName(name), "): '",
                                                   Get(name), "' is not a whole number"));
  }
  return v;
}

bool Flags::GetBool(const std::string& name) const {
  std::string v = absl::AsciiStrToLower(Get(name));
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

std::string Flags::Usage() const {
  std::string out = absl::StrCat("Usage: ", program_, " [flags]\n", summary_,
                                 "\n\nFlags (each also read from the "
                                 "environment variable shown):\n");
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    absl::StrAppend(&out, "  --", name, "  [", EnvName(name), "]\n      ", f.help);
    if (!f.default_value.empty()) {
      absl::StrAppend(&out, " (default: ", f.default_value, ")");
    }
    out += "\n";
  }
  return out;
}

void DefineRedisFlags(Flags& flags) {
  flags.Define("redis-url", "redis://127.0.0.1:6379",
               "Redis to keep all state in: redis://[user:password@]host:port"
               "[/db] or unix:///path");
  flags.Define("redis-sentinels", "",
               "Comma-separated host:port of Redis Sentinels; when set the "
               "master is asked of them (and followed after a failover)");
  flags.Define("redis-master", "mymaster", "Sentinel master group name");
  flags.Define("redis-cluster", "",
               "Comma-separated host:port of Redis Cluster nodes (any few); when set "
               "every call is routed by its key's slot and --redis-url only gives "
               "the user and password");
  flags.Define("redis-wait-replicas", "0",
               "When > 0, a record or org write is acknowledged only once this many "
               "replicas confirmed it (WAIT); see docs/operations.md");
  flags.Define("redis-wait-timeout-ms", "1000", "How long a write waits for its replicas");
  flags.Define("redis-pool", "16", "Redis connections kept per process (per node in a cluster)");
  flags.Define("redis-timeout-ms", "2000", "Timeout of every Redis call");
}

absl::StatusOr<redis::Options> RedisOptionsFromFlags(const Flags& flags) {
  GR_ASSIGN_OR_RETURN(redis::Options options, redis::ParseUrl(flags.Get("redis-url")));
  options.sentinels = flags.Get("redis-sentinels");
  options.sentinel_master = flags.Get("redis-master");
  options.cluster_nodes = flags.Get("redis-cluster");
  if (!options.cluster_nodes.empty() && !options.sentinels.empty()) {
    return absl::InvalidArgumentError("--redis-cluster and --redis-sentinels exclude each other");
  }
  if (!options.cluster_nodes.empty() && options.db != 0) {
    return absl::InvalidArgumentError("--redis-cluster: a cluster has only database 0");
  }
  GR_ASSIGN_OR_RETURN(int64_t pool, flags.GetInt("redis-pool"));
  GR_ASSIGN_OR_RETURN(int64_t timeout_ms, flags.GetInt("redis-timeout-ms"));
  if (pool < 1 || pool > 1024) {
    return absl::InvalidArgumentError("--redis-pool must be within 1..1024");
  }
  options.pool_size = static_cast<int>(pool);
  GR_ASSIGN_OR_RETURN(int64_t wait_replicas, flags.GetInt("redis-wait-replicas"));
  GR_ASSIGN_OR_RETURN(int64_t wait_ms, flags.GetInt("redis-wait-timeout-ms"));
  if (wait_replicas < 0 || wait_replicas > 16 || wait_ms < 1) {
    return absl::InvalidArgumentError(
        "--redis-wait-replicas must be within 0..16 and --redis-wait-timeout-ms positive");
  }
  options.wait_replicas = static_cast<int>(wait_replicas);
  options.wait_timeout = absl::Milliseconds(wait_ms);
  options.command_timeout = absl::Milliseconds(timeout_ms);
  return options;
}

}  // namespace govreport
