// Runs the page token fuzz target over fixed hostile inputs, so that its code
// builds and runs with any compiler; with arguments, over those files (a
// crash reproducer).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      Run(content.str());
    }
    return 0;
  }
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
  for (const std::string& input : inputs) Run(input);
  std::puts("fuzz_page_token_smoke: ok");
  return 0;
}
