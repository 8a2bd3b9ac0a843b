// Hostile inputs for the template fuzz target's smoke test.
#include <string>
#include <vector>

#include "fuzz_smoke_main.h"

std::vector<std::string> SmokeInputs() {
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
  inputs.emplace_back(100000, '{');
  return inputs;
}
