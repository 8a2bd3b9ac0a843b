#include "common/resource.h"

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "common/errors.h"

namespace govreport {

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > 63 || id[0] == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> ParseName(absl::string_view name,
                                                   absl::string_view pattern,
                                                   absl::string_view field) {
  std::vector<absl::string_view> got = absl::StrSplit(name, '/');
  std::vector<absl::string_view> want = absl::StrSplit(pattern, '/');
  std::vector<std::string> ids;
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < want.size(); ++i) {
    if (want[i] == "*") {
      ok = IsValidId(got[i]);
      ids.emplace_back(got[i]);
    } else {
      ok = got[i] == want[i];
    }
  }
  if (!ok) {
    return errors::InvalidField(field, "INVALID_NAME",
                                absl::StrCat("'", name, "' is not a name of the form ", pattern,
                                             " (ids are lower-case letters, digits and '-')"),
                                absl::StrCat("资源名称格式应为 ", pattern));
  }
  return ids;
}

absl::StatusOr<std::string> ParseOrgName(absl::string_view name, absl::string_view field) {
  auto parts = ParseName(name, "orgs/*", field);
  if (!parts.ok()) return parts.status();
  return (*parts)[0];
}

std::string OrgPrefix(absl::string_view org) { return absl::StrCat("gr:{", org, "}:"); }

namespace {

// Raw token: [version][cursor bytes][HMAC-SHA-256, 32 bytes], base64url
// without padding. The MAC also covers the token's kind and the list, which
// the token does not carry: the server knows both.
constexpr char kTokenVersion = '\x01';
constexpr size_t kMacBytes = 32;
constexpr char kOffsetKind = 'o';
constexpr char kCursorKind = 'c';

struct TokenKey {
  absl::Mutex mu;
  std::string key ABSL_GUARDED_BY(mu);
};

TokenKey& PageKey() {
  static TokenKey* key = [] {
    auto* k = new TokenKey;
    k->key = RandomHex(32);
    return k;
  }();
  return *key;
}

std::string Mac(char kind, absl::string_view list, absl::string_view payload) {
  std::string data = absl::StrCat("govreport/page-token/", absl::string_view(&kTokenVersion, 1),
                                  absl::string_view(&kind, 1), PageList({list}), payload);
  TokenKey& k = PageKey();
  absl::ReaderMutexLock lock(&k.mu);
  return HmacSha256(k.key, data);
}

std::string Encode(char kind, absl::string_view list, absl::string_view payload) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(absl::string_view(&kTokenVersion, 1), payload, Mac(kind, list, payload)));
}

absl::Status NotOurs() {
  return absl::InvalidArgumentError(
      "page_token: not a token this list issued (tokens are bound to the list and its filters, "
      "and expire when the servers' key changes); list again without a page_token");
}

// The authenticated payload, or INVALID_ARGUMENT. Checks in order of cost,
// and nothing in the payload is interpreted before the MAC holds.
absl::StatusOr<std::string> Decode(char kind, absl::string_view list, absl::string_view token) {
  if (token.size() > kMaxPageTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: longer than ", kMaxPageTokenBytes, " bytes"));
  }
  for (char c : token) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return NotOurs();
    }
  }
  std::string raw;
  // Only the canonical encoding: no two texts are the same token.
  if (!absl::WebSafeBase64Unescape(token, &raw) || absl::WebSafeBase64Escape(raw) != token ||
      raw.size() < 1 + kMacBytes || raw[0] != kTokenVersion) {
    return NotOurs();
  }
  absl::string_view body(raw);
  absl::string_view payload = body.substr(1, body.size() - 1 - kMacBytes);
  absl::string_view mac = body.substr(body.size() - kMacBytes);
  if (!ConstantTimeEquals(mac, Mac(kind, list, payload))) return NotOurs();
  return std::string(payload);
}

}  // namespace

std::string PageList(std::initializer_list<absl::string_view> parts) {
  std::string out;
  for (absl::string_view part : parts) absl::StrAppend(&out, part.size(), ":", part, ";");
  return out;
}

void SetPageTokenKey(absl::string_view key) {
  TokenKey& k = PageKey();
  absl::MutexLock lock(&k.mu);
  k.key = std::string(key);
}

std::string EncodePageToken(absl::string_view list, int64_t offset) {
  // Eight bytes, big-endian.
  auto bits = static_cast<uint64_t>(offset);
  char payload[8];
  for (int i = 7; i >= 0; --i, bits >>= 8) payload[i] = static_cast<char>(bits & 0xff);
  return Encode(kOffsetKind, list, absl::string_view(payload, sizeof(payload)));
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view list, absl::string_view token) {
  if (token.empty()) return 0;
  absl::StatusOr<std::string> payload = Decode(kOffsetKind, list, token);
  if (!payload.ok()) return payload.status();
  if (payload->size() != 8) return NotOurs();
  uint64_t bits = 0;
  for (char c : *payload) bits = (bits << 8) | static_cast<unsigned char>(c);
  auto offset = static_cast<int64_t>(bits);
  if (offset < 0 || offset > kMaxPageOffset) {
    return absl::InvalidArgumentError("page_token: offset out of range");
  }
  return offset;
}

std::string EncodeCursorToken(absl::string_view list, absl::string_view cursor) {
  return Encode(kCursorKind, list, cursor);
}

absl::StatusOr<std::string> DecodeCursorToken(absl::string_view list, absl::string_view token) {
  if (token.empty()) return std::string();
  absl::StatusOr<std::string> cursor = Decode(kCursorKind, list, token);
  if (!cursor.ok()) return cursor.status();
  if (cursor->size() > kMaxPageCursorBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: cursor longer than ", kMaxPageCursorBytes, " bytes"));
  }
  return cursor;
}

absl::StatusOr<bool> InChangeOrder(absl::string_view order_by, int64_t changed_after) {
  if (changed_after < 0) {
    return errors::InvalidField("changed_after", "INVALID_ARGUMENT", "must not be negative",
                                "不能为负数");
  }
  if (changed_after > 0 && !order_by.empty() && order_by != "change_sequence") {
    return errors::InvalidField(
        "order_by", "INVALID_ARGUMENT",
        absl::StrCat("'", order_by,
                     "' with changed_after; changed_after lists by \"change_sequence\" (leave "
                     "order_by empty or set it to that)"),
        "指定 changed_after 时只能按 change_sequence 排序");
  }
  return order_by == "change_sequence" || (order_by.empty() && changed_after > 0);
}

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size) {
  if (requested < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (requested == 0) return default_size;
  return requested > max_size ? max_size : requested;
}

}  // namespace govreport
