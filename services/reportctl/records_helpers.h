// What records_commands.cc and activity_commands.cc share: the records
// service's stubs, profile files and the activity table.
#ifndef GOVREPORT_REPORTCTL_RECORDS_HELPERS_H_
#define GOVREPORT_REPORTCTL_RECORDS_HELPERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "reportctl/cli.h"

namespace govreport::cli {

records::v1::IndicatorService::Stub Indicators(Context& c);

// A Profile from a JSON (.json) or protobuf text file.
absl::StatusOr<records::v1::Profile> ParseProfileFile(const std::string& path);

// "k=v,..." of a record's quantities, sorted by name.
std::string Quantities(const records::v1::ActivityRecord& r);

// One row per record: name, type, date, revision, state, quantities, title.
void PrintActivities(const google::protobuf::RepeatedPtrField<records::v1::ActivityRecord>& recs);

}  // namespace govreport::cli

#endif  // GOVREPORT_REPORTCTL_RECORDS_HELPERS_H_
