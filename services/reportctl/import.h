// Reads activity records from CSV or JSON files for `reportctl activity
// import`. Every problem is reported with its line, and a file with any
// broken row is rejected whole, so an import never half-happens.
#ifndef GOVREPORT_REPORTCTL_IMPORT_H_
#define GOVREPORT_REPORTCTL_IMPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "govreport/records/v1/records.pb.h"

namespace govreport::cli {

struct ImportedRow {
  int line = 0;  // 1-based line of the file where the row starts.
  records::v1::ActivityRecord record;
};

struct ImportResult {
  std::vector<ImportedRow> rows;
  // "line 7: column 'participants': 'x' is not a whole number", ...
  std::vector<std::string> errors;
};

// CSV with a header row. Known columns: type, occurred_on, title,
// department, source_system, external_id, persons (';'-separated), note,
// amount_yuan (converted exactly to amount_fen; more than two decimals is
// an error). Every other column is an integer quantity; empty cells are
// left out. Quoted fields follow RFC 4180.
ImportResult ParseCsv(const std::string& text);

// A JSON array of ActivityRecord objects, or one object per line.
ImportResult ParseJson(const std::string& text);

// By extension: .csv or .json/.jsonl/.ndjson. A file that is not UTF-8 is
// refused whole (EncodingErrors), whatever its format.
absl::StatusOr<ImportResult> ParseFile(const std::string& path, const std::string& content);

// Empty when `content` is UTF-8. Otherwise the first lines with a byte that
// is not ("line 2, column 7: byte 0xB5 is not UTF-8") and a last entry that
// says how to convert the file: with `iconv -f GBK -t UTF-8` when all of it
// reads as GBK (what Excel saves as "CSV" on a Chinese Windows). Files are
// refused rather than converted: a guessed encoding can read wrong and
// still decode, and the text becomes the record of the report.
std::vector<std::string> EncodingErrors(const std::string& path, const std::string& content);

// Yuan text ("1234.56") to fen, exactly.
absl::StatusOr<int64_t> YuanToFen(const std::string& text);

}  // namespace govreport::cli

#endif  // GOVREPORT_REPORTCTL_IMPORT_H_
