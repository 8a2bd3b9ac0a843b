#include "reportctl/import.h"

#include <google/protobuf/util/json_util.h>
#include <iconv.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/utf8.h"

namespace govreport::cli {
namespace {

namespace pb = ::govreport::records::v1;

struct CsvRow {
  int line = 0;
  std::vector<std::string> cells;
};

// Splits RFC 4180 CSV; returns false with *error on an unterminated quote.
bool SplitCsv(const std::string& text, std::vector<CsvRow>* rows, std::string* error) {
  CsvRow row;
  std::string cell;
  bool quoted = false, row_has_data = false;
  int line = 1;
  row.line = 1;
  size_t i = 0;
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) i = 3;  // Excel's BOM.
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      row_has_data = true;
    } else if (c == ',') {
      row.cells.push_back(std::move(cell));
      cell.clear();
      row_has_data = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (row_has_data || !cell.empty()) {
        row.cells.push_back(std::move(cell));
        rows->push_back(std::move(row));
      }
      cell.clear();
      row = CsvRow();
      row_has_data = false;
      ++line;
      row.line = line;
    } else {
      cell += c;
      row_has_data = true;
    }
  }
  if (quoted) {
    *error = absl::StrCat("line ", row.line, ": a quoted field is never closed");
    return false;
  }
  if (row_has_data || !cell.empty()) {
    row.cells.push_back(std::move(cell));
    rows->push_back(std::move(row));
  }
  return true;
}

}  // namespace

absl::StatusOr<int64_t> YuanToFen(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  std::vector<std::string> parts = absl::StrSplit(text, '.');
  auto digits = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (parts.size() > 2 || !digits(parts[0]) || (parts.size() == 2 && !digits(parts[1]))) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an amount in yuan"));
  }
  if (parts.size() == 2 && parts[1].size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has fractions of a fen (at most two decimals)"));
  }
  int64_t yuan = 0;
  if (parts[0].size() > 13 || !absl::SimpleAtoi(parts[0], &yuan)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is too large"));
  }
  int64_t fen = 0;
  if (parts.size() == 2) {
    std::string f = parts[1];
    while (f.size() < 2) f += '0';
    (void)absl::SimpleAtoi(f, &fen);
  }
  return yuan * 100 + fen;
}

namespace {

// `dim.outcome` is the column of the dimension `outcome`: every other
// column outside the record's own fields is a quantity.
constexpr absl::string_view kDimensionPrefix = "dim.";

// One cell of a CSV row into the record; false (with the error added) when
// the cell is not valid for its column.
bool ApplyCsvCell(const std::string& col, const std::string& v, int line, pb::ActivityRecord* rec,
                  std::vector<std::string>* errors) {
  if (col == "type") {
    rec->set_type(v);
  } else if (col == "occurred_on") {
    rec->set_occurred_on(v);
  } else if (col == "title") {
    rec->set_title(v);
  } else if (col == "department") {
    rec->set_department(v);
  } else if (col == "source_system") {
    rec->set_source_system(v);
  } else if (col == "external_id") {
    rec->set_external_id(v);
  } else if (col == "note") {
    rec->set_note(v);
  } else if (col == "persons") {
    for (absl::string_view p : absl::StrSplit(v, ';', absl::SkipWhitespace())) {
      rec->add_persons(std::string(absl::StripAsciiWhitespace(p)));
    }
  } else if (absl::StartsWith(col, kDimensionPrefix)) {
    // An empty cell leaves the dimension unset, as an absent column would.
    if (!v.empty()) (*rec->mutable_dimensions())[col.substr(kDimensionPrefix.size())] = v;
  } else if (col == "amount_yuan") {
    if (v.empty()) return true;
    auto fen = YuanToFen(v);
    if (!fen.ok()) {
      errors->push_back(
          absl::StrCat("line ", line, ": column 'amount_yuan': ", fen.status().message()));
      return false;
    }
    (*rec->mutable_quantities())["amount_fen"] = *fen;
  } else if (!v.empty()) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(v, &n)) {
      errors->push_back(
          absl::StrCat("line ", line, ": column '", col, "': '", v, "' is not a whole number"));
      return false;
    }
    if (n < 0) {
      errors->push_back(absl::StrCat("line ", line, ": column '", col, "': ", n, " is negative"));
      return false;
    }
    (*rec->mutable_quantities())[col] = n;
  }
  return true;
}

}  // namespace

ImportResult ParseCsv(const std::string& text) {
  ImportResult out;
  std::vector<CsvRow> rows;
  std::string error;
  if (!SplitCsv(text, &rows, &error)) {
    out.errors.push_back(error);
    return out;
  }
  if (rows.empty()) {
    out.errors.emplace_back("line 1: the file is empty (expected a header row)");
    return out;
  }
  std::vector<std::string> header;
  for (const auto& h : rows[0].cells) header.push_back(std::string(absl::StripAsciiWhitespace(h)));
  bool has_type = false, has_date = false;
  for (const auto& h : header) {
    has_type |= h == "type";
    has_date |= h == "occurred_on";
  }
  if (!has_type || !has_date) {
    out.errors.emplace_back("line 1: the header must name the columns 'type' and 'occurred_on'");
    return out;
  }
  for (const auto& h : header) {
    if (h == kDimensionPrefix) {
      out.errors.emplace_back("line 1: column 'dim.' names no dimension (e.g. 'dim.outcome')");
      return out;
    }
  }
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (row.cells.size() != header.size()) {
      out.errors.push_back(absl::StrCat("line ", row.line, ": ", row.cells.size(),
                                        " fields, the header has ", header.size()));
      continue;
    }
    ImportedRow item;
    item.line = row.line;
    bool bad = false;
    for (size_t c = 0; c < header.size(); ++c) {
      std::string v(absl::StripAsciiWhitespace(row.cells[c]));
      bad |= !ApplyCsvCell(header[c], v, row.line, &item.record, &out.errors);
    }
    if (!bad) out.rows.push_back(std::move(item));
  }
  return out;
}

ImportResult ParseJson(const std::string& text) {
  ImportResult out;
  std::string trimmed(absl::StripAsciiWhitespace(text));
  google::protobuf::util::JsonParseOptions options;
  if (absl::StartsWith(trimmed, "[")) {
    // Wrapped in a message with a repeated ActivityRecord field, so that
    // protobuf parses (and checks) the array for us.
    pb::ListActivitiesResponse holder;
    auto st = google::protobuf::util::JsonStringToMessage(
        absl::StrCat("{\"activities\":", trimmed, "}"), &holder, options);
    if (!st.ok()) {
      out.errors.push_back(absl::StrCat("json: ", st.message().as_string()));
      return out;
    }
    // Lines are not known inside an array: number the items instead.
    for (int i = 0; i < holder.activities_size(); ++i) {
      out.rows.push_back({i + 1, holder.activities(i)});
    }
    return out;
  }
  int line = 0;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    ++line;
    if (absl::StripAsciiWhitespace(l).empty()) continue;
    pb::ActivityRecord rec;
    auto st = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(l.data(), l.size()), &rec, options);
    if (!st.ok()) {
      out.errors.push_back(absl::StrCat("line ", line, ": ", st.message().as_string()));
      continue;
    }
    out.rows.push_back({line, std::move(rec)});
  }
  return out;
}

namespace {

// Whether all of `text` converts from `charset` (glibc's iconv names).
bool DecodesAs(const char* charset, const std::string& text) {
  iconv_t cd = iconv_open("UTF-8", charset);
  // iconv_open's documented failure value is (iconv_t)-1.
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;  // NOLINT(performance-no-int-to-ptr)
  std::string in = text;
  char* src = in.data();
  size_t left = in.size();
  char buf[4096];
  bool ok = true;
  while (ok && left > 0) {
    char* dst = buf;
    size_t room = sizeof(buf);
    // E2BIG only means the buffer is full; anything else is a bad sequence.
    if (iconv(cd, &src, &left, &dst, &room) == static_cast<size_t>(-1)) ok = errno == E2BIG;
  }
  iconv_close(cd);
  return ok;
}

constexpr int kEncodingLinesShown = 3;

}  // namespace

std::vector<std::string> EncodingErrors(const std::string& path, const std::string& content) {
  std::vector<std::string> errors;
  if (FindInvalidUtf8(content) == std::string::npos) return errors;
  int line = 0, bad_lines = 0;
  for (absl::string_view piece : absl::StrSplit(content, '\n')) {
    ++line;
    std::string_view l(piece.data(), piece.size());
    size_t at = FindInvalidUtf8(l);
    if (at == std::string::npos) continue;
    if (++bad_lines > kEncodingLinesShown) continue;
    // Columns in characters: the bytes before `at` are well-formed.
    int column = 1;
    for (size_t i = 0; i < at; ++i) column += (static_cast<unsigned char>(l[i]) & 0xC0) != 0x80;
    errors.push_back(absl::StrFormat("line %d, column %d: byte 0x%02X is not UTF-8", line, column,
                                     static_cast<unsigned char>(l[at])));
  }
  if (bad_lines > kEncodingLinesShown) {
    errors.push_back(absl::StrCat("... and ", bad_lines - kEncodingLinesShown, " more line(s)"));
  }
  std::string out = absl::StrCat(path, ".utf8", absl::EndsWith(path, ".csv") ? ".csv" : "");
  if (DecodesAs("GBK", content)) {
    errors.push_back(absl::StrCat(
        "the file is in GBK (Excel's \"CSV\" on a Chinese Windows), not UTF-8: convert it with "
        "`iconv -f GBK -t UTF-8 ",
        path, " > ", out, "` and import that, or save it from Excel as \"CSV UTF-8\""));
  } else {
    errors.push_back(
        absl::StrCat("the file is not UTF-8: convert it with `iconv -f <its encoding> -t UTF-8 ",
                     path, " > ", out, "` and import that, or save it as UTF-8"));
  }
  return errors;
}

absl::StatusOr<ImportResult> ParseFile(const std::string& path, const std::string& content) {
  // Protobuf text fields must be UTF-8: checked first, so a file in another
  // encoding fails --dry-run as it would fail the import, naming its lines.
  if (std::vector<std::string> bad = EncodingErrors(path, content); !bad.empty()) {
    ImportResult out;
    out.errors = std::move(bad);
    return out;
  }
  if (absl::EndsWith(path, ".csv")) return ParseCsv(content);
  if (absl::EndsWith(path, ".json") || absl::EndsWith(path, ".jsonl") ||
      absl::EndsWith(path, ".ndjson")) {
    return ParseJson(content);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": unknown format; name it .csv, .json or .jsonl"));
}

}  // namespace govreport::cli
