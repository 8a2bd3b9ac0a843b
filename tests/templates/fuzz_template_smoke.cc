// Runs the fuzz target over hostile inputs, so its code builds and runs with
// any compiler; with arguments, over those files (a crash reproducer).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
      "{{",
      "}}{{",
      "{{{x}}",
      "{{=",
      "{{= =}}",
      "{{=<% %>=}}<%org.name%><%={{ }}=%>{{org.name}}",
      "{{>self}}",
      "{{<parent}}{{$a}}x{{/a}}{{/parent}}",
      "{{$a}}{{<parent}}{{/parent}}{{/a}}",
      "{{<parent}}{{$a}}{{$a}}y{{/a}}{{/a}}{{/parent}}{{$a}}z{{/a}}",
      "{{>*name}}{{>*items}}",
      "{{#items}}{{#items}}{{#items}}{{.}}{{/items}}{{/items}}{{/items}}",
      "{{ind.talks.cn}}{{ind.fund.daxie}}{{ind.rate.value.wan.cn}}",
      "{{issue.date.cn}}{{issue.date.year.cn}}",
      "  {{#flag}}\n  {{>self}}\n  {{/flag}}\n",
      "{{#a}}{{/b}}{{/a}}{{^c}}",
      "\xff\xfe{{\xff}}{{#\xc3}}",
  };
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "{{#flag}}";
  for (int i = 0; i < 300; ++i) deep += "{{/flag}}";
  inputs.push_back(deep);
  inputs.push_back(std::string(100000, '{'));
  for (const std::string& input : inputs) Run(input);
  std::puts("fuzz_template_smoke: ok");
  return 0;
}
