#include "fuzz_smoke_main.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>

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
  for (const std::string& input : SmokeInputs()) Run(input);
  std::printf("%s: ok\n", argv[0]);
  return 0;
}
