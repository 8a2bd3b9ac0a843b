// The main() of every fuzz target's smoke test: runs the target over the
// test's fixed hostile inputs, so its code builds and runs with any
// compiler; with arguments, over those files (a crash reproducer). A smoke
// test defines SmokeInputs() and links fuzz_smoke_main.cc.
#ifndef GOVREPORT_TESTS_SUPPORT_FUZZ_SMOKE_MAIN_H_
#define GOVREPORT_TESTS_SUPPORT_FUZZ_SMOKE_MAIN_H_

#include <string>
#include <vector>

std::vector<std::string> SmokeInputs();

#endif  // GOVREPORT_TESTS_SUPPORT_FUZZ_SMOKE_MAIN_H_
