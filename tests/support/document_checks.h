// What the tests that open documents with outside tools share: whether a
// tool is installed, a file's bytes, text compared without layout
// whitespace, and the pixels pdftoppm writes.
#ifndef GOVREPORT_TESTS_SUPPORT_DOCUMENT_CHECKS_H_
#define GOVREPORT_TESTS_SUPPORT_DOCUMENT_CHECKS_H_

#include <filesystem>
#include <string>

namespace govreport::testing {

// `tool` is on PATH (the tests that need LibreOffice or poppler skip
// without it).
bool OnPath(const char* tool);

// soffice's --convert-to argument for a PDF with the blank pages Writer
// inserts (before a section that starts on an even page: the 版记's), which
// its PDF export leaves out by default. Quoted for sh.
inline constexpr char kSofficePdf[] =
    R"('pdf:writer_pdf_Export:{"IsSkipEmptyPages":{"type":"boolean","value":"false"}}')";

// Runs `command` under sh, standard error with standard output: its exit
// code (-1 when it did not exit) and what it printed.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

// The whole file; "" when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

// Without ASCII, ideographic and no-break spaces, line breaks, tabs and
// form feeds, which pdftotext puts wherever the layout broke a line.
std::string Squeeze(std::string s);

// A binary PPM (P6, maxval 255) as pdftoppm writes it.
struct Pixmap {
  int width = 0, height = 0;
  std::string rgb;
  // The red of the 发文机关标志 and the separator line.
  bool Red(int x, int y) const;
};
// Empty (0 × 0) when the bytes are no such PPM.
Pixmap ReadPpm(const std::string& bytes);

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_DOCUMENT_CHECKS_H_
