// Runs every case of the Mustache spec's JSON files against the engine and
// prints "<module>: N passed, M failed" per file. The optional ~lambdas
// module is skipped: the engine has no lambdas (templates hold no code).
//
// The folder comes from GR_MUSTACHE_SPEC_DIR (set by CMake) or, when set,
// the MUSTACHE_SPEC_DIR environment variable; the test is skipped when the
// folder does not exist.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "templates/engine/mustache.h"
#include "templates/engine/value.h"

namespace govreport::templates {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;

std::string SpecDir() {
  const char* env = std::getenv("MUSTACHE_SPEC_DIR");
  if (env != nullptr && *env != '\0') return env;
  return GR_MUSTACHE_SPEC_DIR;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Shows control characters so that whitespace differences are visible.
std::string Visible(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

std::string StringField(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? std::string() : it->second.string_value();
}

// Runs one case; "" on success, else what went wrong.
std::string RunCase(const Struct& test) {
  MapPartialResolver partials;
  if (auto it = test.fields().find("partials"); it != test.fields().end()) {
    for (const auto& [name, text] : it->second.struct_value().fields()) {
      absl::Status added = partials.Add(name, text.string_value());
      if (!added.ok()) return "partial does not compile: " + added.ToString();
    }
  }
  absl::StatusOr<CompiledTemplate> compiled =
      CompiledTemplate::Compile(StringField(test, "template"));
  if (!compiled.ok()) {
    return "template does not compile: " + compiled.status().ToString();
  }
  google::protobuf::Value data_proto;
  if (auto it = test.fields().find("data"); it != test.fields().end()) {
    data_proto = it->second;
  }
  absl::StatusOr<Value> data = ValueFromProto(data_proto);
  if (!data.ok()) return "data does not convert: " + data.status().ToString();
  RenderOptions options;
  options.escape = Escape::kHtml;
  options.partials = &partials;
  absl::StatusOr<RenderResult> rendered = compiled->Render(*data, options);
  if (!rendered.ok()) return "render failed: " + rendered.status().ToString();
  const std::string expected = StringField(test, "expected");
  if (rendered->text == expected) return "";
  return "expected \"" + Visible(expected) + "\"\n          got \"" + Visible(rendered->text) +
         "\"";
}

TEST(MustacheSpec, EveryCaseOfEveryModule) {
  const fs::path dir = SpecDir();
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    GTEST_SKIP() << "Mustache spec folder not found: " << dir;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) GTEST_SKIP() << "no .json files in " << dir;

  int all_passed = 0;
  int all_failed = 0;
  for (const fs::path& file : files) {
    const std::string module = file.stem().string();
    if (module == "~lambdas") {
      std::cout << module << ": skipped (optional module, not implemented)" << std::endl;
      continue;
    }
    Struct spec;
    const auto parsed = google::protobuf::util::JsonStringToMessage(ReadFile(file), &spec);
    ASSERT_TRUE(parsed.ok()) << file << ": " << parsed.ToString();
    int passed = 0;
    int failed = 0;
    const auto tests = spec.fields().find("tests");
    ASSERT_NE(tests, spec.fields().end()) << file << " has no \"tests\"";
    for (const google::protobuf::Value& test : tests->second.list_value().values()) {
      const Struct& test_case = test.struct_value();
      const std::string problem = RunCase(test_case);
      if (problem.empty()) {
        ++passed;
        continue;
      }
      ++failed;
      ADD_FAILURE() << module << " / " << StringField(test_case, "name") << "\n  template \""
                    << Visible(StringField(test_case, "template")) << "\"\n  " << problem;
    }
    std::cout << module << ": " << passed << " passed, " << failed << " failed" << std::endl;
    all_passed += passed;
    all_failed += failed;
  }
  std::cout << "total: " << all_passed << " passed, " << all_failed << " failed" << std::endl;
}

}  // namespace
}  // namespace govreport::templates
