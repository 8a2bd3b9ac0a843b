#include "records/period.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace govreport::records {
namespace {

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool ParseFixed(absl::string_view s, size_t digits, int* out) {
  if (s.size() != digits) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(s, out);
}

absl::Status BadPeriod(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("period '", text, "': ", why,
                   " (expected 2023, 2023-H1, 2023-Q2, 2023-05 or 2022-11..2023-10)"));
}

// One period term: returns [first, last] month indexes.
absl::Status ParseTerm(absl::string_view whole, absl::string_view t, int* first, int* last) {
  int year = 0;
  if (t.size() < 4 || !ParseFixed(t.substr(0, 4), 4, &year) || year < 1900 || year > 2999) {
    return BadPeriod(whole, "the year must be four digits within 1900..2999");
  }
  if (t.size() == 4) {
    *first = year * 12;
    *last = year * 12 + 11;
    return absl::OkStatus();
  }
  if (t[4] != '-') return BadPeriod(whole, "a '-' must follow the year");
  absl::string_view rest = t.substr(5);
  int n = 0;
  if (rest.size() == 2 && (rest[0] == 'H' || rest[0] == 'h') && ParseFixed(rest.substr(1), 1, &n) &&
      n >= 1 && n <= 2) {
    *first = year * 12 + (n - 1) * 6;
    *last = *first + 5;
    return absl::OkStatus();
  }
  if (rest.size() == 2 && (rest[0] == 'Q' || rest[0] == 'q') && ParseFixed(rest.substr(1), 1, &n) &&
      n >= 1 && n <= 4) {
    *first = year * 12 + (n - 1) * 3;
    *last = *first + 2;
    return absl::OkStatus();
  }
  if (ParseFixed(rest, 2, &n) && n >= 1 && n <= 12) {
    *first = *last = year * 12 + n - 1;
    return absl::OkStatus();
  }
  return BadPeriod(whole, absl::StrCat("'", rest, "' is not H1-H2, Q1-Q4 or 01-12"));
}

}  // namespace

std::string Date::ToString() const { return absl::StrFormat("%04d-%02d-%02d", year, month, day); }

absl::StatusOr<Date> ParseDate(absl::string_view text) {
  Date d;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' ||
      !ParseFixed(text.substr(0, 4), 4, &d.year) || !ParseFixed(text.substr(5, 2), 2, &d.month) ||
      !ParseFixed(text.substr(8, 2), 2, &d.day)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a date of the form YYYY-MM-DD"));
  }
  if (d.year < 1900 || d.year > 2999 || d.month < 1 || d.month > 12 || d.day < 1 ||
      d.day > DaysInMonth(d.year, d.month)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a day of the calendar"));
  }
  return d;
}

std::string MonthLabel(int month_index) {
  return absl::StrFormat("%04d-%02d", month_index / 12, month_index % 12 + 1);
}

std::string Period::FirstDay() const { return absl::StrCat(MonthLabel(first_month), "-01"); }

std::string Period::LastDay() const {
  return absl::StrFormat("%s-%02d", MonthLabel(last_month),
                         DaysInMonth(last_month / 12, last_month % 12 + 1));
}

std::vector<std::string> Period::Buckets() const {
  std::vector<std::string> out;
  int m = first_month;
  while (m <= last_month) {
    if (m % 12 == 0 && m + 11 <= last_month) {
      out.push_back(absl::StrCat(m / 12));
      m += 12;
    } else {
      out.push_back(MonthLabel(m));
      m += 1;
    }
  }
  return out;
}

std::vector<std::string> Period::Months() const {
  std::vector<std::string> out;
  for (int m = first_month; m <= last_month; ++m) out.push_back(MonthLabel(m));
  return out;
}

absl::StatusOr<Period> ParsePeriod(absl::string_view text) {
  if (text.empty()) return BadPeriod(text, "empty");
  Period p;
  p.label = std::string(text);
  std::vector<absl::string_view> parts = absl::StrSplit(text, "..");
  if (parts.size() > 2) return BadPeriod(text, "more than one '..'");
  int first = 0, last = 0, first2 = 0, last2 = 0;
  auto st = ParseTerm(text, parts[0], &first, &last);
  if (!st.ok()) return st;
  if (parts.size() == 2) {
    st = ParseTerm(text, parts[1], &first2, &last2);
    if (!st.ok()) return st;
    if (first2 < first) return BadPeriod(text, "the range ends before it starts");
    last = last2;
  }
  if (last - first >= 120) return BadPeriod(text, "longer than ten years");
  p.first_month = first;
  p.last_month = last;
  return p;
}

}  // namespace govreport::records
