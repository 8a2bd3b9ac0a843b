// Hostile inputs for the page token fuzz target's smoke test.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "fuzz_smoke_main.h"

std::vector<std::string> SmokeInputs() {
  std::vector<std::string> inputs = {
      "",
      "A",
      "AA",
      "AAAA",
      "====",
      std::string("\xff\xfe\x00\x01", 4),
      std::string(8, '\xff'),
      std::string(8, '\x00'),
      std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8),
      std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8),
      std::string(257, 'c'),
      std::string(600, 'A'),
  };
  // The attack and the other old-format tokens.
  for (const char* v : {"4294967295", "2147483648", "9223372036854775807", "-1", "0"}) {
    inputs.push_back(absl::WebSafeBase64Escape(std::string("indicators|") + v));
  }
  return inputs;
}
