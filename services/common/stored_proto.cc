#include "common/stored_proto.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace govreport {

std::string SerializeDeterministic(const google::protobuf::MessageLite& proto) {
  std::string bytes;
  google::protobuf::io::StringOutputStream raw(&bytes);
  {
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    proto.SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::Status ParseStoredInto(absl::string_view blob, absl::string_view what,
                             google::protobuf::MessageLite* proto) {
  if (!proto->ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", what, " is unreadable"));
  }
  return absl::OkStatus();
}

}  // namespace govreport
