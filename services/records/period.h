// Reporting periods and the calendar buckets aggregates are kept in.
// A period is a whole number of months: 2023, 2023-H1, 2023-Q2, 2023-05, or
// a range 2022-11..2023-10. Aggregates exist per year and month (a write
// updates two buckets, not four: halves and quarters are read as their
// months), so any period is the sum of whole years and months.
#ifndef GOVREPORT_RECORDS_PERIOD_H_
#define GOVREPORT_RECORDS_PERIOD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::records {

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  // YYYYMMDD as a number: orders dates and serves as a sorted-set score.
  int Ordinal() const { return year * 10000 + month * 100 + day; }
  std::string ToString() const;
};

// Strict YYYY-MM-DD with a real calendar day, years 1900..2999.
absl::StatusOr<Date> ParseDate(absl::string_view text);

struct Period {
  std::string label;
  // Months counted from year 0: year * 12 + (month - 1).
  int first_month = 0;
  int last_month = 0;

  std::string FirstDay() const;
  std::string LastDay() const;
  int year() const { return first_month / 12; }
  // The whole years and the months that cover the period exactly, e.g.
  // 2023-Q2 → 2023-04, 2023-05, 2023-06; 2022-11..2023-12 → 2022-11,
  // 2022-12, 2023.
  std::vector<std::string> Buckets() const;
  // Every month bucket, oldest first.
  std::vector<std::string> Months() const;
};

// At most ten years long.
absl::StatusOr<Period> ParsePeriod(absl::string_view text);

std::string MonthLabel(int month_index);

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_PERIOD_H_
