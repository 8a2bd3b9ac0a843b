// libFuzzer target: arbitrary bytes as page tokens, and tokens minted over
// arbitrary cursors then altered. Built with clang -fsanitize=fuzzer,address
// when GOVREPORT_BUILD_FUZZ is on; fuzz_page_token_smoke runs the same
// function over fixed inputs in ctest. Aborts when an invariant breaks:
//   - a token is accepted only if it is exactly what this process issued;
//   - a decoded offset is within [0, kMaxPageOffset], a cursor within
//     kMaxPageCursorBytes, and both round-trip;
//   - a valid token with any byte changed, or cut short, is refused;
//   - every refusal is INVALID_ARGUMENT "page_token: ...".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/resource.h"

namespace {

using govreport::DecodeCursorToken;
using govreport::DecodePageToken;
using govreport::EncodeCursorToken;
using govreport::EncodePageToken;
using govreport::kMaxPageCursorBytes;
using govreport::kMaxPageOffset;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRefusal(const absl::Status& st) {
  Check(st.code() == absl::StatusCode::kInvalidArgument);
  Check(absl::StartsWith(st.message(), "page_token: "));
}

const std::string& List() {
  static const std::string* list = new std::string(govreport::PageList({"fuzz", "kjj"}));
  return *list;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string& list = List();

  // 1. The input as a token.
  absl::StatusOr<int64_t> offset = DecodePageToken(list, in);
  if (offset.ok()) {
    Check(*offset >= 0 && *offset <= kMaxPageOffset);
    Check(in.empty() || EncodePageToken(list, *offset) == in);
  } else {
    CheckRefusal(offset.status());
  }
  absl::StatusOr<std::string> cursor = DecodeCursorToken(list, in);
  if (cursor.ok()) {
    Check(cursor->size() <= kMaxPageCursorBytes);
    Check(in.empty() || EncodeCursorToken(list, *cursor) == in);
  } else {
    CheckRefusal(cursor.status());
  }
  // Another list never accepts it.
  if (!in.empty()) Check(!DecodePageToken(govreport::PageList({"fuzz", "jyj"}), in).ok());

  if (in.size() < 2) return 0;
  // 2. A token minted over the input's bytes as a cursor, and its first
  //    eight bytes as an offset: accepted exactly when the value is sane.
  std::string minted = EncodeCursorToken(list, in);
  cursor = DecodeCursorToken(list, minted);
  Check(cursor.ok() == (in.size() <= kMaxPageCursorBytes));
  if (cursor.ok()) Check(*cursor == in);
  uint64_t bits = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) bits = (bits << 8) | data[i];
  auto value = static_cast<int64_t>(bits);
  std::string minted_offset = EncodePageToken(list, value);
  offset = DecodePageToken(list, minted_offset);
  Check(offset.ok() == (value >= 0 && value <= kMaxPageOffset));
  if (offset.ok()) Check(*offset == value);

  // 3. The minted token altered at a position and by a bit the input picks,
  //    and cut short: always refused.
  std::string raw;
  Check(absl::WebSafeBase64Unescape(minted_offset, &raw));
  raw[data[0] % raw.size()] ^= static_cast<char>(1 << (data[1] % 8));
  CheckRefusal(DecodePageToken(list, absl::WebSafeBase64Escape(raw)).status());
  size_t cut = 1 + data[0] % (minted_offset.size() - 1);
  CheckRefusal(DecodePageToken(list, minted_offset.substr(0, cut)).status());
  return 0;
}
