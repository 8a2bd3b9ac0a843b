// Redis memory per activity record (issue 15): loads N records of the
// sample generator through RecordsCore (the real write path, with the
// sample's amendments and voids in proportion) into a fresh redis-server
// and reports the INFO memory used_memory delta per record, and the
// MEMORY USAGE of each key kind per record. Prints one flat JSON object:
//   redis.bytes_per_record        (used_memory delta - event log) / N: the
//                                 steady state, where the event log and
//                                 request ids keep only a week
//   redis.bytes_per_record_total  used_memory delta / N, everything
//   redis.commands_per_record     commands Redis ran to load them (those in
//                                 scripts included) / N: the write's work
//   redis.request_id_bytes        one request id's key, measured apart
//   redis.records                 N
//   redis.kind.<kind>             MEMORY USAGE of that kind of key / N
// Usage: memory_bench [--records=N] (default 100000).
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/request_id.h"
#include "common/resource.h"
#include "records/core.h"
#include "redis_server.h"
#include "redis_stats.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"

namespace govreport::bench {
namespace {

namespace pb = ::govreport::records::v1;

constexpr char kOrg[] = "mem";

[[noreturn]] void Fail(const std::string& what, const absl::Status& status) {
  std::cerr << what << ": " << status << "\n";
  std::exit(1);
}

int64_t UsedMemory(redis::Client& client) {
  auto info = client.Command({"INFO", "memory"});
  if (!info.ok()) Fail("INFO memory", info.status());
  for (absl::string_view line : absl::StrSplit(info->Str(), "\r\n")) {
    if (absl::ConsumePrefix(&line, "used_memory:")) {
      int64_t v = 0;
      if (absl::SimpleAtoi(line, &v)) return v;
    }
  }
  Fail("INFO memory", absl::DataLossError("no used_memory"));
}

// Commands Redis ran since the last CONFIG RESETSTAT, those inside scripts
// included, without INFO and CONFIG: a repeatable measure of the work a
// write costs Redis.
int64_t CommandsRun(redis::Client& client) {
  auto total = testing::CommandsRun(client, [](absl::string_view command) {
    return command != "info" && !absl::StartsWith(command, "config");
  });
  if (!total.ok()) Fail("INFO commandstats", total.status());
  return *total;
}

// The kind of a key of the org: its first part after the prefix, with a
// record's own key and its history told apart.
std::string KindOf(absl::string_view key) {
  std::string prefix = OrgPrefix(kOrg);
  if (!absl::ConsumePrefix(&key, prefix)) return "other";
  std::vector<absl::string_view> parts = absl::StrSplit(key, ':');
  if (parts[0] == "a") return parts.size() > 2 ? "history" : "record";
  if (parts[0] == "acts" || parts[0] == "ix") return "acts";
  return std::string(parts[0]);
}

std::map<std::string, int64_t> BytesByKind(redis::Client& client) {
  std::map<std::string, int64_t> out;
  std::string cursor = "0";
  do {
    auto page = client.Command({"SCAN", cursor, "COUNT", "5000"});
    if (!page.ok()) Fail("SCAN", page.status());
    cursor = (*page)[0].AsString();
    std::vector<redis::Args> cmds;
    std::vector<std::string> keys;
    for (size_t i = 0; i < (*page)[1].Size(); ++i) {
      keys.push_back((*page)[1][i].AsString());
      cmds.push_back({"MEMORY", "USAGE", keys.back(), "SAMPLES", "0"});
    }
    if (cmds.empty()) continue;
    auto sizes = client.Pipeline(cmds);
    if (!sizes.ok()) Fail("MEMORY USAGE", sizes.status());
    for (size_t i = 0; i < keys.size(); ++i) out[KindOf(keys[i])] += (*sizes)[i].Int();
  } while (cursor != "0");
  return out;
}

// Creates `n` records of the sample, years 2016..2025 over and over (each
// round its own seed and external ids), then the sample's amendments and
// voids of each round. Returns how many records exist.
int64_t Load(records::RecordsCore& recs, const pb::Profile& profile, int64_t n) {
  int64_t made = 0;
  for (int round = 0; made < n; ++round) {
    records::SampleYear year =
        records::GenerateSampleYear(profile, 2016 + round % 10, 2023 + round);
    std::vector<std::string> names;
    for (size_t at = 0; at < year.records.size() && made < n;) {
      pb::BatchCreateActivitiesRequest req;
      for (; at < year.records.size() && made + req.requests_size() < n &&
             req.requests_size() < records::kMaxBatch;
           ++at) {
        pb::ActivityRecord r = year.records[at];
        r.set_external_id(absl::StrCat(r.external_id(), "-r", round));
        *req.add_requests()->mutable_activity() = std::move(r);
      }
      auto resp = recs.BatchCreateActivities(kOrg, "loader", req, true);
      if (!resp.ok()) Fail("batch create", resp.status());
      for (const auto& res : resp->results()) {
        if (res.code() != 0) Fail("batch item", absl::InternalError(res.message()));
        names.push_back(res.activity().name());
      }
      made += req.requests_size();
    }
    for (const auto& a : year.amends) {
      if (a.index >= static_cast<int>(names.size())) continue;
      pb::AmendActivityRequest req;
      *req.mutable_activity() = a.amended;
      req.mutable_activity()->set_name(names[a.index]);
      req.mutable_activity()->set_external_id(absl::StrCat(a.amended.external_id(), "-r", round));
      req.set_reason(a.reason);
      auto st = recs.AmendActivity(kOrg, "loader", req, true);
      if (!st.ok()) Fail("amend", st.status());
    }
    for (const auto& v : year.voids) {
      if (v.index >= static_cast<int>(names.size())) continue;
      pb::VoidActivityRequest req;
      req.set_name(names[v.index]);
      req.set_reason(v.reason);
      auto st = recs.VoidActivity(kOrg, "loader", req, true);
      if (!st.ok()) Fail("void", st.status());
    }
    if (round % 20 == 0) std::cerr << "\rloaded " << made << "/" << n << std::flush;
  }
  std::cerr << "\rloaded " << made << "/" << n << "\n";
  return made;
}

// Bytes one request id's key costs (MEMORY USAGE of each, averaged):
// the main load has none, as after a week in steady state.
double RequestIdBytes(redis::Client& client, records::RecordsCore& recs,
                      const pb::Profile& profile) {
  records::SampleYear year = records::GenerateSampleYear(profile, 2030, 7);
  pb::BatchCreateActivitiesRequest req;
  for (size_t i = 0; i < year.records.size() && i < 300; ++i) {
    auto* one = req.add_requests();
    *one->mutable_activity() = year.records[i];
    one->set_request_id(absl::StrFormat("import-2030-%06d", i));
  }
  auto resp = recs.BatchCreateActivities(kOrg, "loader", req, true);
  if (!resp.ok()) Fail("request id batch", resp.status());
  std::vector<redis::Args> cmds;
  for (const auto& one : req.requests()) {
    cmds.push_back({"MEMORY", "USAGE", request_id::Key(kOrg, one.request_id()), "SAMPLES", "0"});
  }
  auto sizes = client.Pipeline(cmds);
  if (!sizes.ok()) Fail("MEMORY USAGE", sizes.status());
  int64_t total = 0;
  for (const auto& s : *sizes) total += s.Int();
  return static_cast<double>(total) / static_cast<double>(cmds.size());
}

int Main(int argc, char** argv) {
  int64_t n = 100000;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--records=") && !absl::SimpleAtoi(a, &n)) {
      std::cerr << "--records=N\n";
      return 2;
    }
  }
  testing::RedisServer server;
  if (!server.ok()) Fail("redis-server", absl::UnavailableError("did not start"));
  redis::Client client(server.options());
  records::RecordsOptions options;
  options.max_persons_per_year = 0;  // The rounds reuse the sample's persons.
  records::RecordsCore recs(&client, options);
  pb::Profile profile = testing::ShippedProfile();
  pb::Org org;
  org.set_display_name("memory bench");
  if (auto st = recs.CreateOrg(kOrg, org, ""); !st.ok()) Fail("org", st.status());
  if (auto st = recs.LoadProfile(kOrg, profile, ""); !st.ok()) Fail("profile", st.status());
  int64_t before = UsedMemory(client);
  if (auto st = client.Command({"CONFIG", "RESETSTAT"}); !st.ok()) Fail("RESETSTAT", st.status());
  int64_t made = Load(recs, profile, n);
  int64_t commands = CommandsRun(client);
  int64_t delta = UsedMemory(client) - before;
  std::map<std::string, int64_t> kinds = BytesByKind(client);
  auto per = static_cast<double>(made);
  std::string out = absl::StrFormat(
      "{\"redis.records\": %d, \"redis.bytes_per_record_total\": %.0f, "
      "\"redis.bytes_per_record\": %.0f, \"redis.commands_per_record\": %.1f",
      made, delta / per, (delta - kinds["events"]) / per, static_cast<double>(commands) / per);
  for (const auto& [kind, bytes] : kinds) {
    absl::StrAppendFormat(&out, ", \"redis.kind.%s\": %.1f", kind, bytes / per);
  }
  absl::StrAppendFormat(&out, ", \"redis.request_id_bytes\": %.0f}",
                        RequestIdBytes(client, recs, profile));
  std::cout << out << "\n";
  return 0;
}

}  // namespace
}  // namespace govreport::bench

int main(int argc, char** argv) { return govreport::bench::Main(argc, argv); }
