// Command-line flags with environment fallbacks: --redis-url=... or
// GOVREPORT_REDIS_URL=...; the flag wins. Every binary prints its flags with
// --help.
#ifndef GOVREPORT_COMMON_CONFIG_H_
#define GOVREPORT_COMMON_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis.h"

namespace govreport {

class Flags {
 public:
  explicit Flags(std::string program, std::string summary);

  Flags& Define(const std::string& name, std::string default_value, std::string help);
  // Flags may be --name=value or --name value; a bare --name means "true".
  // Unknown flags are an error; --help sets help_requested().
  absl::Status Parse(int argc, char** argv);
  // Positional arguments left after the flags.
  const std::vector<std::string>& positional() const { return positional_; }
  bool help_requested() const { return help_; }

  std::string Get(const std::string& name) const;
  // Every value of a flag given several times (--quantity a=1 --quantity
  // b=2), or its single value / default.
  std::vector<std::string> GetAll(const std::string& name) const;
  bool IsSet(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  std::string Usage() const;

  // GOVREPORT_ + upper case name with '-' as '_'.
  static std::string EnvName(const std::string& name);

 private:
  struct Flag {
    std::string value;
    std::string default_value;
    std::string help;
    bool set = false;
    std::vector<std::string> given;
  };
  std::string program_;
  std::string summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// --redis-url, --redis-sentinels, --redis-master, --redis-cluster,
// --redis-wait-replicas, --redis-wait-timeout-ms, --redis-pool,
// --redis-timeout-ms.
void DefineRedisFlags(Flags& flags);
absl::StatusOr<redis::Options> RedisOptionsFromFlags(const Flags& flags);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_CONFIG_H_
