// Page tokens: MAC'd, bound to their list, refused when forged, altered,
// truncated, too long or of the old unauthenticated format.
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/resource.h"
#include "common/secret.h"
#include "gtest/gtest.h"

namespace govreport {
namespace {

void ExpectRefused(const absl::Status& st) {
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_TRUE(absl::StartsWith(st.message(), "page_token: ")) << st;
}

// The raw bytes of a token with one bit flipped, re-encoded.
std::string FlipBit(const std::string& token, size_t bit) {
  std::string raw;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  raw[(bit / 8) % raw.size()] ^= static_cast<char>(1 << (bit % 8));
  return absl::WebSafeBase64Escape(raw);
}

TEST(PageTokenTest, RoundTripsOffsetsAndCursors) {
  const std::string list = PageList({"indicators", "kjj"});
  EXPECT_EQ(*DecodePageToken(list, ""), 0);
  EXPECT_EQ(*DecodeCursorToken(list, ""), "");
  for (int64_t offset : {int64_t{0}, int64_t{1}, int64_t{100}, kMaxPageOffset}) {
    EXPECT_EQ(*DecodePageToken(list, EncodePageToken(list, offset)), offset);
  }
  for (const std::string& cursor :
       {std::string("a"), std::string("01hx-approval"), std::string(kMaxPageCursorBytes, 'z'),
        std::string("\0\xff", 2)}) {
    EXPECT_EQ(*DecodeCursorToken(list, EncodeCursorToken(list, cursor)), cursor);
  }
  // Opaque: neither the list nor the text of the cursor shows.
  std::string token = EncodeCursorToken(list, "secret-cursor");
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  EXPECT_EQ(raw.find("indicators"), std::string::npos);
  EXPECT_LE(token.size(), kMaxPageTokenBytes);
  EXPECT_LE(EncodeCursorToken(list, std::string(kMaxPageCursorBytes, 'x')).size(),
            kMaxPageTokenBytes);
}

TEST(PageTokenTest, TheIssueAttackAndOldFormatTokensAreRefused) {
  const std::string list = PageList({"indicators", "kjj"});
  for (const char* offset : {"4294967295", "2147483648", "9223372036854775807", "-1", "0"}) {
    ExpectRefused(
        DecodePageToken(list, absl::WebSafeBase64Escape(absl::StrCat("indicators|", offset)))
            .status());
    ExpectRefused(DecodePageToken("indicators",
                                  absl::WebSafeBase64Escape(absl::StrCat("indicators|", offset)))
                      .status());
  }
}

TEST(PageTokenTest, ValuesOutOfRangeAreRefusedEvenWithAValidMac) {
  const std::string list = PageList({"history", "kjj", "a1"});
  for (int64_t offset : {int64_t{-1}, std::numeric_limits<int64_t>::min(), kMaxPageOffset + 1,
                         std::numeric_limits<int64_t>::max()}) {
    ExpectRefused(DecodePageToken(list, EncodePageToken(list, offset)).status());
  }
  ExpectRefused(
      DecodeCursorToken(list, EncodeCursorToken(list, std::string(kMaxPageCursorBytes + 1, 'a')))
          .status());
}

TEST(PageTokenTest, BoundToTheListKindAndKey) {
  const std::string a = PageList({"activities", "kjj", "talk"});
  const std::string b = PageList({"activities", "jyj", "talk"});
  std::string token = EncodePageToken(a, 40);
  ExpectRefused(DecodePageToken(b, token).status());
  // An offset token is not a cursor token of the same list, nor the reverse.
  ExpectRefused(DecodeCursorToken(a, token).status());
  ExpectRefused(DecodePageToken(a, EncodeCursorToken(a, "x")).status());
  // PageList is unambiguous: moving a boundary makes another list.
  EXPECT_NE(PageList({"ab", "c"}), PageList({"a", "bc"}));
  EXPECT_NE(PageList({"a", ""}), PageList({"a"}));
  // Another key (a restart without a secret, another deployment).
  SetPageTokenKey("another key entirely, 32 bytes or more");
  ExpectRefused(DecodePageToken(a, token).status());
  EXPECT_EQ(*DecodePageToken(a, EncodePageToken(a, 40)), 40);
}

TEST(PageTokenTest, TamperedTruncatedAndOverlongTokensAreRefused) {
  const std::string list = PageList({"tokens", "kjj"});
  std::string token = EncodePageToken(list, 7);
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  for (size_t bit = 0; bit < raw.size() * 8; ++bit) {
    ExpectRefused(DecodePageToken(list, FlipBit(token, bit)).status());
  }
  for (size_t n = 1; n < token.size(); ++n) {
    ExpectRefused(DecodePageToken(list, token.substr(0, n)).status());
  }
  for (const std::string& bad :
       {token + "A", token + "=", token + "==", "=" + token, token + " ", token + "\n",
        std::string(kMaxPageTokenBytes + 1, 'A'), std::string(100000, 'A'), std::string("\0", 1),
        std::string("+/+/"), std::string("%%%%")}) {
    ExpectRefused(DecodePageToken(list, bad).status());
    ExpectRefused(DecodeCursorToken(list, bad).status());
  }
  // Standard base64 (+ and /) is not the URL-safe alphabet tokens use.
  std::string standard;
  absl::Base64Escape(raw, &standard);
  if (standard != token) ExpectRefused(DecodePageToken(list, standard).status());
}

TEST(PageTokenTest, ConfiguredFromTheDeploymentSecret) {
  Flags a("records", ""), b("approval", ""), none("templates", ""), short_key("x", "");
  for (Flags* f : {&a, &b, &none, &short_key}) DefineSecretFlags(*f);
  std::string secret(40, 's');
  std::string arg = absl::StrCat("--secret-key=", secret);
  char* argv[] = {const_cast<char*>("prog"), arg.data()};
  ASSERT_TRUE(a.Parse(2, argv).ok());
  ASSERT_TRUE(b.Parse(2, argv).ok());
  char* bare[] = {const_cast<char*>("prog")};
  ASSERT_TRUE(none.Parse(1, bare).ok());
  char* short_argv[] = {const_cast<char*>("prog"), const_cast<char*>("--secret-key=short")};
  ASSERT_TRUE(short_key.Parse(2, short_argv).ok());

  const std::string list = PageList({"orgs", ""});
  // Two servers with one secret (replicas, or before and after a restart)
  // accept each other's tokens.
  ASSERT_TRUE(ConfigurePageTokens(a, "records").ok());
  std::string token = EncodePageToken(list, 50);
  SetPageTokenKey("anything else");
  ASSERT_TRUE(ConfigurePageTokens(b, "approval").ok());
  EXPECT_EQ(*DecodePageToken(list, token), 50);
  // A secret that is set but unusable stops the server.
  EXPECT_EQ(ConfigurePageTokens(short_key, "x").code(), absl::StatusCode::kInvalidArgument);
  // No secret: the key stays what it was (random per process), with a
  // warning; it does not fail.
  EXPECT_TRUE(ConfigurePageTokens(none, "templates").ok());
}

}  // namespace
}  // namespace govreport
