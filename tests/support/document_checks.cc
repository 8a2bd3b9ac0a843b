#include "document_checks.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace govreport::testing {

bool OnPath(const char* tool) {
  return std::system(absl::StrCat("command -v ", tool, " >/dev/null 2>&1").c_str()) == 0;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.output.append(buf, n);
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Squeeze(std::string s) {
  s = absl::StrReplaceAll(s, {{"\u3000", ""}, {"\u00A0", ""}});
  std::erase_if(
      s, [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'; });
  return s;
}

bool Pixmap::Red(int x, int y) const {
  const size_t at = 3 * (static_cast<size_t>(y) * width + x);
  const auto r = static_cast<unsigned char>(rgb[at]);
  const auto g = static_cast<unsigned char>(rgb[at + 1]);
  const auto b = static_cast<unsigned char>(rgb[at + 2]);
  return r > 200 && g < 90 && b < 90;
}

Pixmap ReadPpm(const std::string& bytes) {
  Pixmap p;
  std::istringstream in(bytes);
  std::string magic;
  int maxval = 0;
  in >> magic >> p.width >> p.height >> maxval;
  in.get();  // the one whitespace byte before the pixels
  if (magic != "P6" || maxval != 255 || p.width <= 0 || p.height <= 0) return {};
  p.rgb = bytes.substr(static_cast<size_t>(in.tellg()));
  if (p.rgb.size() < 3 * static_cast<size_t>(p.width) * p.height) return {};
  return p;
}

}  // namespace govreport::testing
