// reportctl commands of activity records: create, list, history, amend,
// void, file import and the sample year.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "records/domain.h"
#include "records/profile.h"
#include "reportctl/cli.h"
#include "reportctl/import.h"
#include "reportctl/records_helpers.h"
#include "reportctl/sample.h"

namespace govreport::cli {

namespace pb = ::govreport::records::v1;

std::string Quantities(const pb::ActivityRecord& r) {
  std::map<std::string, int64_t> q(r.quantities().begin(), r.quantities().end());
  std::vector<std::string> parts;
  parts.reserve(q.size());
  for (const auto& [k, v] : q) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, ",");
}

void PrintActivities(const google::protobuf::RepeatedPtrField<pb::ActivityRecord>& recs) {
  Table t({"name", "type", "occurred_on", "rev", "state", "quantities", "title"});
  for (const auto& r : recs) {
    t.Add({r.name(), r.type(), r.occurred_on(), absl::StrCat(r.revision()),
           r.voided() ? "voided" : "ok", Quantities(r), r.title()});
  }
  t.Print();
}

namespace {

// Defaults of flags, shown by help and applied here.
constexpr int64_t kDefaultBatchSize = 500;
constexpr int64_t kDefaultListLimit = 100;
constexpr int64_t kDefaultSampleYear = 2023;
constexpr int64_t kDefaultSampleSeed = 2023;

// "k=v" pairs into a map; false on a malformed pair.
template <typename Map, typename Convert>
bool ParsePairs(const std::vector<std::string>& items, Map* out, Convert convert,
                std::string* bad) {
  for (const auto& item : items) {
    for (absl::string_view pair : absl::StrSplit(item, ',', absl::SkipEmpty())) {
      auto eq = pair.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        *bad = std::string(pair);
        return false;
      }
      typename Map::mapped_type value;
      if (!convert(std::string(pair.substr(eq + 1)), &value)) {
        *bad = std::string(pair);
        return false;
      }
      (*out)[std::string(pair.substr(0, eq))] = value;
    }
  }
  return true;
}

bool AsInt(const std::string& s, int64_t* v) { return absl::SimpleAtoi(s, v); }

pb::ActivityService::Stub Activities(Context& c) {
  return pb::ActivityService::Stub(c.Channel("records"));
}

void PrintActivity(Context& c, const pb::ActivityRecord& r) {
  if (c.json()) return PrintJson(r);
  google::protobuf::RepeatedPtrField<pb::ActivityRecord> one;
  *one.Add() = r;
  PrintActivities(one);
}

// Fills record fields from --type/--date/... flags (only those given).
bool ApplyRecordFlags(Context& c, pb::ActivityRecord* r, std::string* bad) {
  Flags& f = c.flags();
  if (f.IsSet("type")) r->set_type(f.Get("type"));
  if (f.IsSet("date")) r->set_occurred_on(f.Get("date"));
  if (f.IsSet("title")) r->set_title(f.Get("title"));
  if (f.IsSet("department")) r->set_department(f.Get("department"));
  if (f.IsSet("source")) r->set_source_system(f.Get("source"));
  if (f.IsSet("external-id")) r->set_external_id(f.Get("external-id"));
  if (f.IsSet("note")) r->set_note(f.Get("note"));
  if (f.IsSet("person")) {
    r->clear_persons();
    for (const auto& p : f.GetAll("person")) {
      for (absl::string_view one : absl::StrSplit(p, ',', absl::SkipEmpty())) {
        r->add_persons(std::string(one));
      }
    }
  }
  std::map<std::string, int64_t> q;
  if (!ParsePairs(f.GetAll("quantity"), &q, AsInt, bad)) return false;
  for (const auto& [k, v] : q) (*r->mutable_quantities())[k] = v;
  return true;
}

// ----------------------------------------------------------- activities

int ActivityCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  pb::CreateActivityRequest req;
  req.set_parent(OrgName(c.args[0]));
  std::string bad;
  if (!ApplyRecordFlags(c, req.mutable_activity(), &bad)) {
    return UsageError(cmd, absl::StrCat("--quantity wants name=whole number, got '", bad, "'"));
  }
  req.set_request_id(RequestId(c));
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).CreateActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

int ActivityGet(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  pb::GetActivityRequest req;
  req.set_name(c.args[0]);
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).GetActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

int ActivityList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  Flags& f = c.flags();
  pb::ListActivitiesRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_type(f.Get("type"));
  req.set_from_date(f.Get("from"));
  req.set_to_date(f.Get("to"));
  req.set_department(f.Get("department"));
  req.set_source_system(f.Get("source"));
  req.set_include_voided(f.GetBool("include-voided"));
  int64_t limit = f.GetInt("limit").value_or(kDefaultListLimit);
  pb::ListActivitiesResponse all;
  do {
    pb::ListActivitiesResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    req.set_page_size(static_cast<int>(std::min<int64_t>(1000, limit - all.activities_size())));
    auto st = Activities(c).ListActivities(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& a : *resp.mutable_activities()) *all.add_activities() = std::move(a);
    req.set_page_token(resp.next_page_token());
    all.set_next_page_token(resp.next_page_token());
  } while (!req.page_token().empty() && all.activities_size() < limit);
  if (c.json()) {
    PrintJson(all);
  } else {
    PrintActivities(all.activities());
    std::cout << all.activities_size() << " record(s)"
              << (all.next_page_token().empty() ? "" : " (more: raise --limit)") << "\n";
  }
  return kOk;
}

int ActivityHistory(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  pb::ListActivityRevisionsRequest req;
  req.set_name(c.args[0]);
  req.set_page_size(1000);
  pb::ListActivityRevisionsResponse resp;
  do {  // Every page, into one answer.
    pb::ListActivityRevisionsResponse page;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).ListActivityRevisions(&ctx, req, &page);
    if (!st.ok()) return Fail(st);
    resp.mutable_revisions()->MergeFrom(page.revisions());
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  Table t({"rev", "by", "state", "occurred_on", "quantities", "reason"});
  for (const auto& r : resp.revisions()) {
    t.Add({absl::StrCat(r.revision()), r.recorded_by(), r.voided() ? "voided" : "ok",
           r.occurred_on(), Quantities(r),
           // Revisions stored before change_reason existed kept only a void's.
           r.change_reason().empty() ? r.void_reason() : r.change_reason()});
  }
  t.Print();
  return kOk;
}

int ActivityAmend(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  // Start from the stored record so only the flags given change.
  pb::GetActivityRequest get;
  get.set_name(c.args[0]);
  pb::ActivityRecord cur;
  {
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).GetActivity(&ctx, get, &cur);
    if (!st.ok()) return Fail(st);
  }
  pb::AmendActivityRequest req;
  *req.mutable_activity() = cur;
  std::string bad;
  if (!ApplyRecordFlags(c, req.mutable_activity(), &bad)) {
    return UsageError(cmd, absl::StrCat("--quantity wants name=whole number, got '", bad, "'"));
  }
  req.set_expected_revision(c.flags().GetInt("expected-revision").value_or(0)
                                ? *c.flags().GetInt("expected-revision")
                                : cur.revision());
  req.set_reason(c.flags().Get("reason"));
  req.set_request_id(RequestId(c));
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).AmendActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

int ActivityVoid(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  if (c.flags().Get("reason").empty()) return UsageError(cmd, "--reason is required");
  pb::VoidActivityRequest req;
  req.set_name(c.args[0]);
  req.set_reason(c.flags().Get("reason"));
  req.set_expected_revision(c.flags().GetInt("expected-revision").value_or(0));
  req.set_request_id(RequestId(c));
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).VoidActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

absl::StatusOr<pb::Profile> FetchProfile(Context& c, const std::string& org) {
  pb::GetProfileRequest req;
  req.set_parent(OrgName(org));
  pb::Profile resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetProfile(&ctx, req, &resp);
  if (!st.ok())
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return resp;
}

// Sends records in batches; returns names by input index ("" if failed).
struct SendResult {
  std::vector<std::string> names;
  std::vector<std::string> errors;
  int created = 0;
  // OK but stored before (a re-run, or the same source_system/external_id).
  int already_present = 0;
};

absl::StatusOr<SendResult> SendBatches(Context& c, const std::string& org,
                                       const std::vector<pb::ActivityRecord>& records,
                                       const std::vector<std::string>& request_ids,
                                       const std::vector<int>& lines, bool progress) {
  int64_t batch = std::clamp<int64_t>(c.flags().GetInt("batch-size").value_or(kDefaultBatchSize), 1,
                                      records::kMaxBatch);
  SendResult out;
  out.names.resize(records.size());
  for (size_t start = 0, end = 0; start < records.size(); start = end) {
    // At most `batch` records and the server's default persons per batch.
    end = start;
    int64_t persons = 0;
    while (end < records.size() && end - start < static_cast<size_t>(batch) &&
           (end == start ||
            persons + records[end].persons_size() <= records::kDefaultMaxPersonsPerBatch)) {
      persons += records[end].persons_size();
      ++end;
    }
    pb::BatchCreateActivitiesRequest req;
    req.set_parent(OrgName(org));
    for (size_t i = start; i < end; ++i) {
      auto* one = req.add_requests();
      *one->mutable_activity() = records[i];
      one->set_request_id(request_ids[i]);
    }
    pb::BatchCreateActivitiesResponse resp;
    // Transient failures are retried: the request ids make it safe.
    grpc::Status st;
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext ctx;
      c.Prepare(ctx);
      st = Activities(c).BatchCreateActivities(&ctx, req, &resp);
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
    if (!st.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    }
    for (int k = 0; k < resp.results_size(); ++k) {
      const auto& r = resp.results(k);
      size_t i = start + k;
      if (r.code() == 0) {
        out.names[i] = r.activity().name();
        ++(r.already_present() ? out.already_present : out.created);
      } else {
        out.errors.push_back(absl::StrCat("line ", lines[i], ": ", r.message()));
      }
    }
    if (progress) {
      std::cerr << "\rimported " << end << "/" << records.size() << " ("
                << (100 * end / records.size()) << "%)" << std::flush;
    }
  }
  if (progress && !records.empty()) std::cerr << "\n";
  return out;
}

int ActivityImport(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the file");
  std::string content;
  if (!ReadInput(c.args[1], &content))
    return UsageError(cmd, absl::StrCat("cannot read ", c.args[1]));
  auto parsed = ParseFile(c.args[1], content);
  if (!parsed.ok()) return UsageError(cmd, std::string(parsed.status().message()));
  // Check every row against the org's catalogue before sending any, so a
  // file with a broken row changes nothing.
  auto profile = FetchProfile(c, c.args[0]);
  if (!profile.ok()) return Fail(profile.status());
  auto compiled = records::CompiledProfile::Compile(*profile);
  if (!compiled.ok()) return Fail(compiled.status());
  std::vector<std::string> errors = parsed->errors;
  for (const auto& row : parsed->rows) {
    auto st = records::ValidateActivity(**compiled, row.record);
    if (!st.ok()) errors.push_back(absl::StrCat("line ", row.line, ": ", st.message()));
  }
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << c.args[1] << ": " << e << "\n";
    std::cerr << "nothing imported: fix the " << errors.size() << " problem(s) above\n";
    return kUsage;
  }
  if (c.flags().GetBool("dry-run")) {
    std::cout << parsed->rows.size() << " record(s) valid; nothing sent (--dry-run)\n";
    return kOk;
  }
  // A request id per row derived from the file, so re-running the same
  // import creates nothing twice.
  std::string file_id = Sha256Hex(content).substr(0, 16);
  std::vector<pb::ActivityRecord> recs;
  std::vector<std::string> rids;
  std::vector<int> lines;
  for (const auto& row : parsed->rows) {
    recs.push_back(row.record);
    rids.push_back(absl::StrCat("import-", file_id, "-", row.line));
    lines.push_back(row.line);
  }
  auto sent = SendBatches(c, c.args[0], recs, rids, lines, !c.json());
  if (!sent.ok()) return Fail(sent.status());
  for (const auto& e : sent->errors) std::cerr << c.args[1] << ": " << e << "\n";
  std::cout << recs.size() << " record(s): " << sent->created << " created, "
            << sent->already_present << " already present, " << sent->errors.size() << " refused\n";
  return sent->errors.empty() ? kOk : kPartial;
}

int SampleLoad(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  auto profile = FetchProfile(c, c.args[0]);
  if (!profile.ok()) return Fail(profile.status());
  int year = static_cast<int>(c.flags().GetInt("year").value_or(kDefaultSampleYear));
  uint64_t seed = static_cast<uint64_t>(c.flags().GetInt("seed").value_or(kDefaultSampleSeed));
  records::SampleYear sample = records::GenerateSampleYear(*profile, year, seed);
  std::vector<std::string> rids;
  std::vector<int> lines;
  for (size_t i = 0; i < sample.records.size(); ++i) {
    rids.push_back(absl::StrCat("sample-", seed, "-", sample.records[i].external_id()));
    lines.push_back(static_cast<int>(i + 1));
  }
  auto sent = SendBatches(c, c.args[0], sample.records, rids, lines, false);
  if (!sent.ok()) return Fail(sent.status());
  if (!sent->errors.empty()) {
    for (const auto& e : sent->errors) std::cerr << "sample record " << e << "\n";
    return kPartial;
  }
  for (const auto& a : sample.amends) {
    pb::AmendActivityRequest req;
    *req.mutable_activity() = a.amended;
    req.mutable_activity()->set_name(sent->names[a.index]);
    req.set_reason(a.reason);
    // Same content every time: a rerun only adds an identical revision.
    req.set_request_id(absl::StrCat("sample-amend-", a.amended.external_id()));
    pb::ActivityRecord resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).AmendActivity(&ctx, req, &resp);
    if (!st.ok() && st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return Fail(st);
  }
  for (const auto& v : sample.voids) {
    pb::VoidActivityRequest req;
    req.set_name(sent->names[v.index]);
    req.set_reason(v.reason);
    req.set_request_id(absl::StrCat("sample-void-", sample.records[v.index].external_id()));
    pb::ActivityRecord resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).VoidActivity(&ctx, req, &resp);
    // Already voided by an earlier load: nothing to do.
    if (!st.ok() && st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return Fail(st);
  }
  std::cout << "sample " << year << " for " << OrgName(c.args[0]) << ": " << sample.records.size()
            << " records, " << sample.amends.size() << " amended, " << sample.voids.size()
            << " voided\n";
  return kOk;
}

int SampleCsv(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the profile file");
  auto profile = ParseProfileFile(c.args[0]);
  if (!profile.ok()) return Fail(profile.status());
  int year = static_cast<int>(c.flags().GetInt("year").value_or(kDefaultSampleYear));
  records::SampleYear sample = records::GenerateSampleYear(*profile, year);
  std::set<std::string> quantity_columns;
  for (const auto& r : sample.records) {
    for (const auto& [k, v] : r.quantities()) quantity_columns.insert(k);
  }
  auto csv = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  std::cout << "type,occurred_on,title,department,source_system,external_id,persons";
  for (const auto& q : quantity_columns) std::cout << "," << q;
  std::cout << "\n";
  for (const auto& r : sample.records) {
    std::cout << r.type() << "," << r.occurred_on() << "," << csv(r.title()) << ","
              << csv(r.department()) << ",csv-" << r.source_system() << "," << r.external_id()
              << "," << csv(absl::StrJoin(r.persons(), ";"));
    for (const auto& q : quantity_columns) {
      auto it = r.quantities().find(q);
      std::cout << "," << (it == r.quantities().end() ? "" : absl::StrCat(it->second));
    }
    std::cout << "\n";
  }
  return kOk;
}
// The record fields activity create and activity amend set.
std::vector<CommandFlag> RecordFlags() {
  return {{"type", "", "Activity type of the org's profile"},
          {"date", "", "When it happened, YYYY-MM-DD"},
          {"title", "", "Title"},
          {"department", "", "Department that did it"},
          {"quantity", "", "name=whole number, repeatable or comma-separated"},
          {"person", "", "Person id, repeatable or comma-separated (replaces the list)"},
          {"note", "", "Free note"},
          {"source", "", "Source system the record comes from"},
          {"external-id", "", "The record's id in the source system"}};
}

void RegisterImportCommands(std::vector<Command>& commands) {
  AddCommand(commands, "activity import", "ORG FILE [--batch-size N] [--dry-run]",
             "Import records from CSV (header: type,occurred_on,title,department,source_system,"
             "external_id,persons,note,amount_yuan, dim.KEY per dimension and one column per "
             "quantity) or JSON (an array "
             "or one ActivityRecord per line). Every row is checked first; a file with any bad "
             "row imports nothing. Rerunning the same file creates nothing twice.",
             {{"batch-size", absl::StrCat(kDefaultBatchSize),
               absl::StrCat("Records per call, 1 to ", records::kMaxBatch)},
              {"dry-run", "false", "Check every row and send nothing"}},
             ActivityImport);
}

void RegisterSampleCommands(std::vector<Command>& commands) {
  AddCommand(commands, "sample load", "ORG [--year 2023] [--seed N]",
             "Load the deterministic sample year of the org's profile (idempotent); another seed "
             "gives another department's year.",
             {{"year", absl::StrCat(kDefaultSampleYear), "Year of the sample records"},
              {"seed", absl::StrCat(kDefaultSampleSeed), "Seed of the sample generator"}},
             SampleLoad);
  AddCommand(commands, "sample csv", "PROFILE_FILE [--year 2023]",
             "Print the sample year as an import CSV.",
             {{"year", absl::StrCat(kDefaultSampleYear), "Year of the sample records"}}, SampleCsv);
}

}  // namespace

void RegisterActivityCommands(std::vector<Command>& commands) {
  AddCommand(commands, "activity create",
             "ORG --type T --date YYYY-MM-DD [--title] [--department] [--quantity k=v]... "
             "[--person id]... [--source S --external-id X]",
             "Record one activity.", RecordFlags(), ActivityCreate);
  RegisterImportCommands(commands);
  AddCommand(commands, "activity list",
             "ORG [--type] [--from] [--to] [--department] [--source] [--include-voided] "
             "[--limit N]",
             "List records, oldest first.",
             {{"type", "", "Only this activity type"},
              {"from", "", "Only from this day, YYYY-MM-DD"},
              {"to", "", "Only to this day, YYYY-MM-DD"},
              {"department", "", "Only this department"},
              {"source", "", "Only this source system"},
              {"include-voided", "false", "Show voided records too"},
              {"limit", absl::StrCat(kDefaultListLimit), "At most this many records"}},
             ActivityList);
  AddCommand(commands, "activity get", "NAME", "Show one record (orgs/ORG/activities/ID).", {},
             ActivityGet);
  AddCommand(commands, "activity history", "NAME", "Every revision of a record.", {},
             ActivityHistory);
  std::vector<CommandFlag> amend = RecordFlags();
  amend.push_back({"reason", "", "Why the record is corrected"});
  amend.push_back(
      {"expected-revision", "0", "Refuse unless the record is at this revision (0: the one read)"});
  AddCommand(commands, "activity amend",
             "NAME [--type] [--date] [--quantity k=v]... [--reason TEXT] [--expected-revision N]",
             "Correct a record; the flags given replace those fields.", std::move(amend),
             ActivityAmend);
  AddCommand(
      commands, "activity void", "NAME --reason TEXT [--expected-revision N]",
      "Void a record: it stops counting, and its history stays.",
      {{"reason", "", "Why the record is voided (required)"},
       {"expected-revision", "0", "Refuse unless the record is at this revision (0: no check)"}},
      ActivityVoid);
  RegisterSampleCommands(commands);
}
}  // namespace govreport::cli
