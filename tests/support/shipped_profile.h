// The profile the project ships (deploy/profiles/strict-governance), read
// the way `reportctl profile load` reads it: short enum names allowed.
#ifndef GOVREPORT_TESTS_SUPPORT_SHIPPED_PROFILE_H_
#define GOVREPORT_TESTS_SUPPORT_SHIPPED_PROFILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "govreport/records/v1/records.pb.h"

namespace govreport::testing {

inline constexpr char kShippedProfilePath[] = "deploy/profiles/strict-governance/profile.json";

// NOT_FOUND when the file cannot be read, INVALID_ARGUMENT when it does not
// parse (the parser's message).
absl::StatusOr<records::v1::Profile> ReadShippedProfile();

// The same for tests and benches that cannot go on without it: prints why
// and aborts when the shipped file does not read.
records::v1::Profile ShippedProfile();

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_SHIPPED_PROFILE_H_
