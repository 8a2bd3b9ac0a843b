#include "shipped_profile.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/errors.h"

namespace govreport::testing {

absl::StatusOr<records::v1::Profile> ReadShippedProfile() {
  std::string path = absl::StrCat(GOVREPORT_SOURCE_DIR, "/", kShippedProfilePath);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  records::v1::Profile profile;
  absl::Status parsed = ParseHumanWritten(text.str(), FileSyntax::kJson, &profile);
  if (!parsed.ok()) return errors::Prefixed(parsed, absl::StrCat(path, ": "));
  return profile;
}

records::v1::Profile ShippedProfile() {
  absl::StatusOr<records::v1::Profile> profile = ReadShippedProfile();
  if (!profile.ok()) {
    std::cerr << profile.status() << "\n";
    std::abort();
  }
  return *std::move(profile);
}

}  // namespace govreport::testing
