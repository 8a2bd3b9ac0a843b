// The records logic against a real redis-server: writes, idempotency,
// corrections, figures, provenance, and aggregates equal to a recomputation
// from the raw records after a random history.
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/enums.h"
#include "gtest/gtest.h"
#include "previous_listing_layout.h"
#include "records/core.h"
#include "records/lua_scripts.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"
#include "test_redis.h"

namespace govreport::records {
namespace {

using govreport::testing::ShippedProfile;

class RecordsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    client_ = std::make_unique<redis::Client>(server_.options());
    RecordsOptions o;
    o.profile_cache_ttl = absl::ZeroDuration();
    records_ = std::make_unique<RecordsCore>(client_.get(), o);
    v1::Org org;
    org.set_display_name("中共某市科学技术局党组");
    org.set_short_name("市科技局");
    ASSERT_TRUE(records_->CreateOrg("kjj", org, "").ok());
    ASSERT_TRUE(records_->LoadProfile("kjj", ShippedProfile(), "").ok());
  }

  v1::ActivityRecord Talk(const std::string& date, int64_t participants) {
    v1::ActivityRecord r;
    r.set_type("heart_to_heart_talk");
    r.set_occurred_on(date);
    r.set_title("谈心谈话");
    (*r.mutable_quantities())["participants"] = participants;
    return r;
  }

  const v1::IndicatorValue& Value(const v1::GetIndicatorValuesResponse& resp,
                                  const std::string& key) {
    for (const auto& v : resp.values()) {
      if (v.key() == key) return v;
    }
    static v1::IndicatorValue none;
    ADD_FAILURE() << "no indicator " << key;
    return none;
  }

  testing::TestRedis server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<RecordsCore> records_;
};

TEST_F(RecordsStoreTest, OrgsCreateGetUpdateWithRevisions) {
  v1::Org dup;
  dup.set_display_name("x");
  EXPECT_EQ(records_->CreateOrg("kjj", dup, "").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(records_->CreateOrg("Bad_Id", dup, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(records_->GetOrg("nope").status().code(), absl::StatusCode::kNotFound);
  v1::UpdateOrgRequest up;
  up.mutable_org()->set_name("orgs/kjj");
  up.mutable_org()->set_city("重庆");
  up.add_update_mask("city");
  up.set_expected_revision(1);
  auto updated = records_->UpdateOrg(up);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->city(), "重庆");
  EXPECT_EQ(updated->short_name(), "市科技局");  // Outside the mask: kept.
  EXPECT_EQ(updated->revision(), 2);
  EXPECT_EQ(records_->UpdateOrg(up).status().code(), absl::StatusCode::kAborted);
  auto list = records_->ListOrgs("", 0, "");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->orgs_size(), 1);
}

TEST_F(RecordsStoreTest, CreateIsIdempotentOnRequestIdAndExternalId) {
  auto a = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 5), "req-1");
  ASSERT_TRUE(a.ok()) << a.status();
  auto again = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 5), "req-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name(), a->name());

  v1::ActivityRecord ext = Talk("2023-03-02", 4);
  ext.set_source_system("oa");
  ext.set_external_id("OA-77");
  auto b = records_->CreateActivity("kjj", "li", ext, "");
  ASSERT_TRUE(b.ok());
  auto same = records_->CreateActivity("kjj", "li", ext, "");
  EXPECT_EQ(same->name(), b->name());
  ext.mutable_quantities()->at("participants") = 9;
  auto conflict = records_->CreateActivity("kjj", "li", ext, "");
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);

  auto figures = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(figures.ok());
  EXPECT_EQ(Value(*figures, "heart_to_heart_talks").value(), 9);  // 5 + 4, once each.
  EXPECT_EQ(Value(*figures, "heart_to_heart_talks").record_count(), 2);
}

// The answer to a request id reused with another method, target or content
// (AIP-155): INVALID_ARGUMENT naming the id.
bool Reused(const absl::Status& s, const std::string& id) {
  return s.code() == absl::StatusCode::kInvalidArgument &&
         absl::StrContains(s.message(), absl::StrCat("'", id, "'"));
}

// AIP-155 over every mutating call of the service: a repeat returns the
// first result and writes nothing; the id with another method, target or
// content is INVALID_ARGUMENT naming the id.
TEST_F(RecordsStoreTest, ARepeatedRequestIdReturnsTheFirstResultAndNothingElse) {
  auto first = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 5), "create-1");
  ASSERT_TRUE(first.ok()) << first.status();
  v1::AmendActivityRequest amend;
  *amend.mutable_activity() = Talk("2023-03-01", 7);
  amend.mutable_activity()->set_name(first->name());
  amend.set_request_id("amend-1");
  auto amended = records_->AmendActivity("kjj", "li", amend);
  ASSERT_TRUE(amended.ok()) << amended.status();

  // The same create again: the record as the first call left it
  // (revision 1), though it has been amended since.
  auto again = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 5), "create-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->name(), first->name());
  EXPECT_EQ(again->revision(), 1);
  EXPECT_EQ(again->quantities().at("participants"), 5);
  auto amended_again = records_->AmendActivity("kjj", "li", amend);
  ASSERT_TRUE(amended_again.ok()) << amended_again.status();
  EXPECT_EQ(amended_again->revision(), 2);

  // Another create under a create's id (other content) used to return the
  // first record and lose the second.
  auto other = records_->CreateActivity("kjj", "li", Talk("2023-04-01", 3), "create-1");
  EXPECT_TRUE(Reused(other.status(), "create-1")) << other.status();
  // Another method under the id.
  v1::VoidActivityRequest void_first;
  void_first.set_name(first->name());
  void_first.set_reason("录入重复");
  void_first.set_request_id("create-1");
  EXPECT_TRUE(Reused(records_->VoidActivity("kjj", "li", void_first).status(), "create-1"));
  // Another caller under the id.
  EXPECT_TRUE(
      Reused(records_->CreateActivity("kjj", "wang", Talk("2023-03-01", 5), "create-1").status(),
             "create-1"));

  // VoidActivity(Y, R) after VoidActivity(X, R) used to answer OK and
  // leave Y as it was.
  auto y = records_->CreateActivity("kjj", "li", Talk("2023-05-01", 2), "");
  ASSERT_TRUE(y.ok());
  void_first.set_request_id("void-1");
  auto voided = records_->VoidActivity("kjj", "li", void_first);
  ASSERT_TRUE(voided.ok()) << voided.status();
  EXPECT_TRUE(voided->voided());
  auto void_repeat = records_->VoidActivity("kjj", "li", void_first);
  ASSERT_TRUE(void_repeat.ok()) << void_repeat.status();
  EXPECT_EQ(void_repeat->revision(), voided->revision());
  v1::VoidActivityRequest void_y = void_first;
  void_y.set_name(y->name());
  EXPECT_TRUE(Reused(records_->VoidActivity("kjj", "li", void_y).status(), "void-1"));
  auto y_now = records_->GetActivity("kjj", y->name().substr(y->name().rfind('/') + 1));
  ASSERT_TRUE(y_now.ok());
  EXPECT_FALSE(y_now->voided());

  // Figures count each record once: 5 voided away, 2 left.
  auto figures = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(figures.ok());
  EXPECT_EQ(Value(*figures, "heart_to_heart_talks").record_count(), 1);
}

// Orgs and profiles: the same call twice is one write; other content is refused.
TEST_F(RecordsStoreTest, ARepeatedRequestIdOnOrgsAndProfilesIsOneWrite) {
  v1::UpdateOrgRequest up;
  up.mutable_org()->set_name("orgs/kjj");
  up.mutable_org()->set_city("重庆");
  up.add_update_mask("city");
  up.set_request_id("org-1");
  auto org1 = records_->UpdateOrg(up);
  ASSERT_TRUE(org1.ok()) << org1.status();
  auto org2 = records_->UpdateOrg(up);
  ASSERT_TRUE(org2.ok()) << org2.status();
  EXPECT_EQ(org2->revision(), org1->revision());
  up.mutable_org()->set_city("成都");
  EXPECT_TRUE(Reused(records_->UpdateOrg(up).status(), "org-1"));
  EXPECT_EQ(records_->GetOrg("kjj")->city(), "重庆");
  EXPECT_TRUE(records_->LoadProfile("kjj", ShippedProfile(), "profile-1").ok());
  EXPECT_TRUE(records_->LoadProfile("kjj", ShippedProfile(), "profile-1").ok());
  v1::Profile smaller = ShippedProfile();
  smaller.mutable_indicators()->RemoveLast();
  EXPECT_TRUE(Reused(records_->LoadProfile("kjj", smaller, "profile-1").status(), "profile-1"));
}

TEST_F(RecordsStoreTest, RequestIdsArePrintableAsciiOfAtMost128Characters) {
  EXPECT_EQ(records_->CreateActivity("kjj", "li", Talk("2023-03-01", 1), "a b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(records_->CreateActivity("kjj", "li", Talk("2023-03-01", 1), std::string(129, 'x'))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// Two items of one batch under one id used to answer OK for both and keep
// only the first record.
TEST_F(RecordsStoreTest, BatchItemsSharingARequestIdAreRefusedWhole) {
  v1::BatchCreateActivitiesRequest batch;
  for (int day : {1, 2, 3}) {
    auto* one = batch.add_requests();
    *one->mutable_activity() = Talk(absl::StrFormat("2023-06-%02d", day), day);
    one->set_request_id(day == 3 ? "batch-a" : absl::StrCat("batch-", day));
  }
  batch.mutable_requests(0)->set_request_id("batch-a");
  auto refused = records_->BatchCreateActivities("kjj", "li", batch);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "requests[2].request_id"))
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "requests[0]")) << refused.status();
  auto figures = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(figures.ok());
  EXPECT_EQ(Value(*figures, "heart_to_heart_talks").record_count(), 0);

  // With distinct ids the batch goes in, and a repeat of it (or of one of
  // its items as a single create) writes nothing more.
  batch.mutable_requests(2)->set_request_id("batch-3");
  auto created = records_->BatchCreateActivities("kjj", "li", batch);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->created(), 3);
  auto repeat = records_->BatchCreateActivities("kjj", "li", batch);
  ASSERT_TRUE(repeat.ok());
  // Issue 11: a repeat created nothing, and says so.
  EXPECT_EQ(repeat->created(), 0);
  EXPECT_EQ(repeat->already_present(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(repeat->results(i).activity().name(), created->results(i).activity().name());
    EXPECT_TRUE(repeat->results(i).already_present());
    EXPECT_FALSE(created->results(i).already_present());
  }
  auto single = records_->CreateActivity("kjj", "li", batch.requests(1).activity(), "batch-2");
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->name(), created->results(1).activity().name());
  figures = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(figures.ok());
  EXPECT_EQ(Value(*figures, "heart_to_heart_talks").record_count(), 3);
}

TEST_F(RecordsStoreTest, BadInputNamesTheFieldAndWritesNothing) {
  struct Case {
    std::function<void(v1::ActivityRecord&)> edit;
    absl::StatusCode code;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](auto& r) { r.set_type("no_such_type"); }, absl::StatusCode::kInvalidArgument,
       "activity.type"},
      {[](auto& r) { r.set_occurred_on("2023-02-30"); }, absl::StatusCode::kInvalidArgument,
       "occurred_on"},
      {[](auto& r) { r.set_occurred_on("May 8"); }, absl::StatusCode::kInvalidArgument,
       "occurred_on"},
      {[](auto& r) { r.mutable_quantities()->at("participants") = -3; },
       absl::StatusCode::kInvalidArgument, "negative"},
      {[](auto& r) { r.mutable_quantities()->clear(); }, absl::StatusCode::kInvalidArgument,
       "quantities[participants]"},
      {[](auto& r) { (*r.mutable_quantities())["weight"] = 1; }, absl::StatusCode::kInvalidArgument,
       "quantities[weight]"},
      {[](auto& r) { r.set_external_id("x"); }, absl::StatusCode::kInvalidArgument, "external_id"},
  };
  for (const auto& c : cases) {
    v1::ActivityRecord r = Talk("2023-03-01", 5);
    c.edit(r);
    auto st = records_->CreateActivity("kjj", "li", r, "").status();
    EXPECT_EQ(st.code(), c.code) << st;
    EXPECT_NE(std::string(st.message()).find(c.field), std::string::npos) << st;
  }
  EXPECT_EQ(records_->CreateActivity("nope", "li", Talk("2023-03-01", 1), "").status().code(),
            absl::StatusCode::kNotFound);
  auto dv = client_->Command({"GET", "gr:{kjj}:dv"});
  EXPECT_TRUE(dv->IsNil());  // Nothing was written.
}

TEST_F(RecordsStoreTest, BatchIsPerRecordAndBounded) {
  v1::BatchCreateActivitiesRequest req;
  *req.add_requests()->mutable_activity() = Talk("2023-01-05", 3);
  v1::ActivityRecord bad = Talk("2023-01-06", 3);
  bad.set_type("nope");
  *req.add_requests()->mutable_activity() = bad;
  *req.add_requests()->mutable_activity() = Talk("2023-01-07", 4);
  auto resp = records_->BatchCreateActivities("kjj", "li", req);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->created(), 2);
  EXPECT_EQ(resp->failed(), 1);
  EXPECT_EQ(resp->results(1).code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(resp->results(1).message().find("requests[1]"), std::string::npos);

  v1::BatchCreateActivitiesRequest huge;
  for (int i = 0; i <= kMaxBatch; ++i)
    *huge.add_requests()->mutable_activity() = Talk("2023-01-05", 1);
  EXPECT_EQ(records_->BatchCreateActivities("kjj", "li", huge).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RecordsStoreTest, AmendAndVoidMoveTheFiguresAndKeepHistory) {
  auto a = records_->CreateActivity("kjj", "li", Talk("2023-02-10", 5), "");
  ASSERT_TRUE(a.ok());
  v1::AmendActivityRequest amend;
  *amend.mutable_activity() = Talk("2023-07-10", 8);  // Moves to H2 too.
  amend.mutable_activity()->set_name(a->name());
  amend.set_expected_revision(1);
  auto b = records_->AmendActivity("kjj", "wang", amend);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->revision(), 2);
  EXPECT_EQ(records_->AmendActivity("kjj", "wang", amend).status().code(),
            absl::StatusCode::kAborted);  // Stale expected revision.
  auto h1 = records_->GetIndicatorValues("kjj", "2023-H1");
  auto h2 = records_->GetIndicatorValues("kjj", "2023-H2");
  EXPECT_TRUE(Value(*h1, "heart_to_heart_talks").missing());
  EXPECT_EQ(Value(*h2, "heart_to_heart_talks").value(), 8);

  v1::VoidActivityRequest v;
  v.set_name(a->name());
  v.set_reason("重复录入");
  auto voided = records_->VoidActivity("kjj", "wang", v);
  ASSERT_TRUE(voided.ok());
  EXPECT_TRUE(voided->voided());
  EXPECT_TRUE(
      Value(*records_->GetIndicatorValues("kjj", "2023"), "heart_to_heart_talks").missing());
  EXPECT_EQ(records_->VoidActivity("kjj", "wang", v).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto history = records_->ListRevisions("kjj", a->name().substr(a->name().rfind('/') + 1));
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].quantities().at("participants"), 5);
  EXPECT_EQ((*history)[1].quantities().at("participants"), 8);
  EXPECT_TRUE((*history)[2].voided());
}

// Issue 15: a record's history list is written from its first change on,
// so a record never changed keeps one copy; its revision 1 still reads, and
// replays. A list written at create time by an earlier version (revision 1
// first) reads and grows as before.
TEST_F(RecordsStoreTest, HistoryIsWrittenFromTheFirstChangeAndOldListsStillRead) {
  auto fresh = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 4), "once");
  ASSERT_TRUE(fresh.ok());
  std::string fresh_id = fresh->name().substr(fresh->name().rfind('/') + 1);
  std::string prefix = "gr:{kjj}:a:";
  EXPECT_EQ(client_->Command({"EXISTS", prefix + fresh_id + ":h"})->Int(), 0);
  auto one = records_->ListRevisions("kjj", fresh_id);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].quantities().at("participants"), 4);
  EXPECT_TRUE(records_->ListRevisions("kjj", fresh_id, 1)->empty());
  auto replay = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 4), "once");
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->name(), fresh->name());
  EXPECT_EQ(replay->revision(), 1);

  // As an earlier version left it: revision 1 in the list from the create.
  auto old = records_->CreateActivity("kjj", "li", Talk("2023-04-01", 6), "");
  ASSERT_TRUE(old.ok());
  std::string old_id = old->name().substr(old->name().rfind('/') + 1);
  std::string blob = std::string(client_->Command({"GET", prefix + old_id})->Str());
  ASSERT_TRUE(client_->Command({"RPUSH", prefix + old_id + ":h", blob}).ok());
  for (const std::string& id : {fresh_id, old_id}) {
    v1::AmendActivityRequest amend;
    *amend.mutable_activity() = Talk("2023-05-01", 9);
    amend.mutable_activity()->set_name(absl::StrCat("orgs/kjj/activities/", id));
    auto b = records_->AmendActivity("kjj", "wang", amend);
    ASSERT_TRUE(b.ok()) << b.status();
    auto history = records_->ListRevisions("kjj", id);
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), 2u) << id;
    EXPECT_EQ((*history)[0].revision(), 1);
    EXPECT_EQ((*history)[1].quantities().at("participants"), 9);
    EXPECT_EQ(records_->ListRevisions("kjj", id, 1, 1)->size(), 1u);
  }
  // The replay of the first create answers revision 1 from the list now.
  auto again = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 4), "once");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revision(), 1);
  EXPECT_EQ(again->quantities().at("participants"), 4);
}

// Issue 15: the orders over all types merge the per-type indexes. An org
// the previous version wrote (acts:c and acts:d over all types, no set of
// types) lists every record in order after the upgrade, and those indexes
// are gone then.
TEST_F(RecordsStoreTest, TheIndexesOverAllTypesOfThePreviousVersionAreMigrated) {
  SampleYear year = GenerateSampleYear(ShippedProfile(), 2023);
  std::set<std::string> types;
  for (size_t at = 0; at < year.records.size();) {
    v1::BatchCreateActivitiesRequest req;
    for (; at < year.records.size() && req.requests_size() < 1000; ++at) {
      *req.add_requests()->mutable_activity() = year.records[at];
      types.insert(year.records[at].type());
    }
    ASSERT_TRUE(records_->BatchCreateActivities("kjj", "li", req).ok());
  }
  const std::string p = "gr:{kjj}:";
  ToPreviousListingLayout(*client_, "kjj");
  for (const char* kind : {"c", "d"}) {
    redis::Args cmd{"ZUNIONSTORE", absl::StrCat(p, "acts:", kind), absl::StrCat(types.size())};
    for (const auto& t : types) cmd.push_back(absl::StrCat(p, "acts:", kind, ":t:", t));
    ASSERT_TRUE(client_->Command(cmd).ok());
  }
  ASSERT_TRUE(client_->Command({"DEL", p + "types"}).ok());
  RecordsOptions o;
  RecordsCore upgraded(client_.get(), o);
  for (const char* order : {"create_sequence", "occurred_on"}) {
    v1::ListActivitiesRequest req;
    req.set_order_by(order);
    req.set_page_size(100);
    std::vector<v1::ActivityRecord> all;
    for (;;) {
      auto page = upgraded.ListActivities("kjj", req);
      ASSERT_TRUE(page.ok()) << page.status();
      all.insert(all.end(), page->activities().begin(), page->activities().end());
      if (page->next_page_token().empty()) break;
      req.set_page_token(page->next_page_token());
    }
    ASSERT_EQ(all.size(), year.records.size()) << order;
    for (size_t i = 1; i < all.size(); ++i) {
      if (std::string(order) == "occurred_on") {
        EXPECT_LE(all[i - 1].occurred_on(), all[i].occurred_on());
      } else {
        EXPECT_LT(all[i - 1].create_sequence(), all[i].create_sequence());
      }
    }
  }
  EXPECT_EQ(client_->Command({"EXISTS", p + "acts:c", p + "acts:d", p + "acts:u"})->Int(), 0);
  EXPECT_EQ(client_->Command({"SCARD", p + "types"})->Int(), static_cast<int64_t>(types.size()));
  int64_t indexed = 0;
  for (const IndexBucket& b : ListingBuckets(*client_, "kjj")) indexed += b.size;
  EXPECT_EQ(indexed, 3 * static_cast<int64_t>(year.records.size()));
}

// Issue 15: a LATEST value is read from the stored record's quantities in
// Lua: exact over the whole int64 range, a zero included.
TEST_F(RecordsStoreTest, LatestValuesReadFromTheRecordAreExact) {
  for (int64_t enrolled :
       {int64_t{0}, int64_t{46}, int64_t{9007199254740993}, int64_t{9223372036854775807}}) {
    v1::ActivityRecord r;
    r.set_type("online_academy_snapshot");
    r.set_occurred_on("2023-06-30");
    r.set_title("干部网络学院学习情况");
    (*r.mutable_quantities())["enrolled"] = enrolled;
    (*r.mutable_quantities())["completed"] = 7;
    auto made = records_->CreateActivity("kjj", "li", r, "");
    ASSERT_TRUE(made.ok()) << made.status();
    auto values = records_->GetIndicatorValues("kjj", "2023-06");
    ASSERT_TRUE(values.ok()) << values.status();
    EXPECT_EQ(Value(*values, "online_academy_enrolled").value(), enrolled);
    EXPECT_FALSE(Value(*values, "online_academy_enrolled").missing());
    EXPECT_EQ(Value(*values, "online_academy_completed").value(), 7);
    v1::VoidActivityRequest v;
    v.set_name(made->name());
    v.set_reason("测试");
    ASSERT_TRUE(records_->VoidActivity("kjj", "li", v).ok());
  }
}

// Issue 11: instants are google.protobuf.Timestamp. What a write stored is
// what every read returns; a record stored while they were int64 fields
// (create_unix 15, update_unix 16, numbers now reserved) reads with its
// times unset (not as garbage, not as another field) and all else intact.
TEST_F(RecordsStoreTest, TimestampsRoundTripAndAnOldRecordReadsThemUnset) {
  absl::Time now = absl::FromUnixSeconds(1704400000);
  RecordsOptions o;
  o.profile_cache_ttl = absl::ZeroDuration();
  o.clock = [&] { return now; };
  RecordsCore core(client_.get(), o);
  v1::Org org;
  org.set_display_name("中共某市教育局党组");
  auto created_org = core.CreateOrg("jyj", org, "");
  ASSERT_TRUE(created_org.ok()) << created_org.status();
  EXPECT_EQ(created_org->create_time().seconds(), 1704400000);
  EXPECT_EQ(core.GetOrg("jyj")->update_time().seconds(), 1704400000);

  auto a = core.CreateActivity("kjj", "li", Talk("2023-02-10", 5), "");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->create_time().seconds(), 1704400000);
  EXPECT_EQ(a->update_time().seconds(), 1704400000);
  const std::string id = a->name().substr(a->name().rfind('/') + 1);
  now += absl::Seconds(90);
  v1::AmendActivityRequest amend;
  *amend.mutable_activity() = *a;
  amend.mutable_activity()->set_title("谈心谈话（更正）");
  ASSERT_TRUE(core.AmendActivity("kjj", "wang", amend).ok());
  auto got = core.GetActivity("kjj", id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->create_time().seconds(), 1704400000);
  EXPECT_EQ(got->update_time().seconds(), 1704400090);
  auto listed = core.ListActivities("kjj", v1::ListActivitiesRequest());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->activities_size(), 1);
  EXPECT_EQ(listed->activities(0).update_time().seconds(), 1704400090);

  v1::ActivityRecord old = *got;
  old.clear_create_time();
  old.clear_update_time();
  old.GetReflection()->MutableUnknownFields(&old)->AddVarint(15, 1704400000);
  old.GetReflection()->MutableUnknownFields(&old)->AddVarint(16, 1704400090);
  // As an earlier version stored it: a hash {d, r, c, s}.
  const std::string key = absl::StrCat("gr:{kjj}:a:", id);
  ASSERT_TRUE(client_->Command({"DEL", key}).ok());
  ASSERT_TRUE(client_
                  ->Command({"HSET", key, "d", old.SerializeAsString(), "r", "2", "c",
                             Contribution(old), "s", absl::StrCat(got->create_sequence())})
                  .ok());
  auto back = core.GetActivity("kjj", id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->has_create_time());
  EXPECT_FALSE(back->has_update_time());
  EXPECT_EQ(back->title(), "谈心谈话（更正）");
  EXPECT_EQ(back->revision(), 2);
  EXPECT_EQ(back->occurred_on(), "2023-02-10");
  EXPECT_EQ(back->quantities().at("participants"), 5);
  EXPECT_EQ(back->create_sequence(), got->create_sequence());
  // Written again, it has the new fields.
  now += absl::Seconds(30);
  v1::VoidActivityRequest v;
  v.set_name(a->name());
  v.set_reason("重复录入");
  auto voided = core.VoidActivity("kjj", "wang", v);
  ASSERT_TRUE(voided.ok()) << voided.status();
  EXPECT_EQ(voided->update_time().seconds(), 1704400120);
}

// Issue 11: AmendActivity's reason was thrown away; only voids kept theirs.
// Each revision keeps the reason of the change that made it.
TEST_F(RecordsStoreTest, EveryRevisionKeepsTheReasonOfItsChange) {
  auto a = records_->CreateActivity("kjj", "li", Talk("2023-02-10", 5), "");
  ASSERT_TRUE(a.ok());
  std::string id = a->name().substr(a->name().rfind('/') + 1);
  v1::AmendActivityRequest amend;
  *amend.mutable_activity() = Talk("2023-02-10", 8);
  amend.mutable_activity()->set_name(a->name());
  // A reason set on the record itself is output only: not taken.
  amend.mutable_activity()->set_change_reason("forged");
  amend.set_reason("参加人数录错，按签到表更正");
  auto b = records_->AmendActivity("kjj", "wang", amend);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->change_reason(), "参加人数录错，按签到表更正");
  // An amendment without a reason does not inherit the previous one.
  amend.clear_reason();
  *amend.mutable_activity() = Talk("2023-02-11", 8);
  amend.mutable_activity()->set_name(a->name());
  ASSERT_TRUE(records_->AmendActivity("kjj", "wang", amend).ok());
  v1::VoidActivityRequest v;
  v.set_name(a->name());
  v.set_reason("重复录入");
  ASSERT_TRUE(records_->VoidActivity("kjj", "wang", v).ok());

  auto history = records_->ListRevisions("kjj", id);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 4u);
  EXPECT_EQ((*history)[0].change_reason(), "");
  EXPECT_EQ((*history)[1].change_reason(), "参加人数录错，按签到表更正");
  EXPECT_EQ((*history)[2].change_reason(), "");
  EXPECT_EQ((*history)[3].change_reason(), "重复录入");
  EXPECT_EQ((*history)[3].void_reason(), "重复录入");
  EXPECT_EQ(records_->GetActivity("kjj", id)->change_reason(), "重复录入");
  // A record created with a reason on it starts without one.
  v1::ActivityRecord sneaky = Talk("2023-03-01", 2);
  sneaky.set_change_reason("forged");
  auto c = records_->CreateActivity("kjj", "li", sneaky, "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->change_reason(), "");
}

// Issue 11: BatchCreateActivitiesResponse.created counted replays, so a
// re-run import said every record was stored. Created, already present and
// refused are counted apart, and each result says which it is.
TEST_F(RecordsStoreTest, BatchCountsCreatedAlreadyPresentAndRefusedApart) {
  v1::BatchCreateActivitiesRequest batch;
  for (int i = 0; i < 4; ++i) {
    auto* one = batch.add_requests();
    *one->mutable_activity() = Talk(absl::StrFormat("2023-06-%02d", i + 1), i + 1);
    one->mutable_activity()->set_source_system("oa");
    one->mutable_activity()->set_external_id(absl::StrCat("oa-", i));
    one->set_request_id(absl::StrCat("run1-", i));
  }
  batch.mutable_requests(3)->mutable_activity()->set_type("no_such_type");
  auto first = records_->BatchCreateActivities("kjj", "li", batch);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->created(), 3);
  EXPECT_EQ(first->already_present(), 0);
  EXPECT_EQ(first->failed(), 1);

  // The same file again: the same request ids.
  auto again = records_->BatchCreateActivities("kjj", "li", batch);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->created(), 0);
  EXPECT_EQ(again->already_present(), 3);
  EXPECT_EQ(again->failed(), 1);
  EXPECT_FALSE(again->results(3).already_present());

  // Another system's export of the same records (new request ids, same
  // external ids), plus one new record.
  for (int i = 0; i < 4; ++i) batch.mutable_requests(i)->set_request_id(absl::StrCat("run2-", i));
  *batch.mutable_requests(3)->mutable_activity() = Talk("2023-06-30", 9);
  auto other = records_->BatchCreateActivities("kjj", "li", batch);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->created(), 1);
  EXPECT_EQ(other->already_present(), 3);
  EXPECT_EQ(other->failed(), 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(other->results(i).already_present()) << i;
    EXPECT_EQ(other->results(i).activity().name(), first->results(i).activity().name());
  }
  EXPECT_FALSE(other->results(3).already_present());
  auto figures = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(figures.ok());
  EXPECT_EQ(Value(*figures, "heart_to_heart_talks").record_count(), 4);
}

TEST_F(RecordsStoreTest, ZeroIsAValueAndNoDataIsMissing) {
  v1::ActivityRecord check;
  check.set_type("online_opinion_monitoring");
  check.set_occurred_on("2023-04-25");
  (*check.mutable_quantities())["incidents"] = 0;
  ASSERT_TRUE(records_->CreateActivity("kjj", "li", check, "").ok());
  auto f = records_->GetIndicatorValues("kjj", "2023");
  const auto& v = Value(*f, "online_opinion_incidents");
  EXPECT_FALSE(v.missing());
  EXPECT_EQ(v.value(), 0);
  EXPECT_EQ(v.display(), "0");
  EXPECT_TRUE(Value(*f, "ideology_negative_incidents").missing());
}

TEST_F(RecordsStoreTest, ListFiltersAndPages) {
  for (int m = 1; m <= 12; ++m) {
    v1::ActivityRecord r = Talk(absl::StrFormat("2023-%02d-15", m), m);
    r.set_department(m % 2 ? "办公室" : "人事处");
    ASSERT_TRUE(records_->CreateActivity("kjj", "li", r, "").ok());
  }
  v1::ListActivitiesRequest req;
  req.set_from_date("2023-03-01");
  req.set_to_date("2023-08-31");
  req.set_page_size(4);
  std::vector<std::string> dates;
  do {
    auto page = records_->ListActivities("kjj", req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& a : page->activities()) dates.push_back(a.occurred_on());
    req.set_page_token(page->next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(dates.size(), 6u);
  EXPECT_EQ(dates.front(), "2023-03-15");
  v1::ListActivitiesRequest dept;
  dept.set_department("人事处");
  EXPECT_EQ(records_->ListActivities("kjj", dept)->activities_size(), 6);
  v1::ListActivitiesRequest bad;
  bad.set_page_token("forged");
  EXPECT_EQ(records_->ListActivities("kjj", bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RecordsStoreTest, ProvenanceListsTheRecordsBehindANumber) {
  auto a = records_->CreateActivity("kjj", "li", Talk("2023-02-10", 5), "");
  auto b = records_->CreateActivity("kjj", "li", Talk("2023-05-10", 6), "");
  ASSERT_TRUE(records_->CreateActivity("kjj", "li", Talk("2022-05-10", 7), "").ok());
  auto prov = records_->GetIndicatorProvenance("kjj", "heart_to_heart_talks", "2023", 0, "");
  ASSERT_TRUE(prov.ok()) << prov.status();
  EXPECT_EQ(prov->value().value(), 11);
  std::set<std::string> names;
  for (const auto& r : prov->records()) names.insert(r.name());
  EXPECT_EQ(names, (std::set<std::string>{a->name(), b->name()}));
  EXPECT_EQ(records_->GetIndicatorProvenance("kjj", "nope", "2023", 0, "").status().code(),
            absl::StatusCode::kNotFound);
}

// The shipped profile plus a SUM of an optional quantity (party dues may
// carry amount_fen) and a ratio whose terms count the same records.
v1::Profile WithOptionalSumAndSharedRatio() {
  v1::Profile p = ShippedProfile();
  v1::Indicator* dues = p.add_indicators();
  dues->set_key("dues_collected");
  dues->set_label("收缴党费");
  dues->set_unit("元");
  dues->mutable_measure()->set_kind(v1::MEASURE_KIND_SUM);
  dues->mutable_measure()->add_activity_types("party_dues_collection");
  dues->mutable_measure()->set_quantity("amount_fen");
  v1::Indicator* talks = p.add_indicators();
  talks->set_key("talk_sessions");
  talks->set_unit("次");
  talks->mutable_measure()->set_kind(v1::MEASURE_KIND_COUNT);
  talks->mutable_measure()->add_activity_types("heart_to_heart_talk");
  v1::Indicator* per = p.add_indicators();
  per->set_key("participants_per_talk");
  per->set_unit("%");
  per->mutable_measure()->set_kind(v1::MEASURE_KIND_RATIO);
  per->mutable_measure()->set_numerator("heart_to_heart_talks");
  per->mutable_measure()->set_denominator("talk_sessions");
  return p;
}

// Records that do not state an optional quantity do not make its SUM 0:
// the figure is missing (so the template's missing-value handling
// applies), and 0 only once a record states 0.
TEST_F(RecordsStoreTest, ASumNoRecordStatesIsMissingNotZero) {
  ASSERT_TRUE(records_->LoadProfile("kjj", WithOptionalSumAndSharedRatio(), "").ok());
  v1::ActivityRecord dues;
  dues.set_type("party_dues_collection");
  dues.set_occurred_on("2023-03-05");
  (*dues.mutable_quantities())["members"] = 40;
  auto a = records_->CreateActivity("kjj", "li", dues, "");
  ASSERT_TRUE(a.ok()) << a.status();
  dues.set_occurred_on("2023-04-05");
  ASSERT_TRUE(records_->CreateActivity("kjj", "li", dues, "").ok());
  auto f = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(Value(*f, "dues_collected").missing());
  EXPECT_EQ(Value(*f, "dues_collected").display(), "");
  EXPECT_EQ(Value(*f, "dues_collected").record_count(), 2);
  EXPECT_FALSE(Value(*f, "dues_paying_members").missing());

  // A record stating 0: a value, 0.
  v1::AmendActivityRequest amend;
  *amend.mutable_activity() = *a;
  (*amend.mutable_activity()->mutable_quantities())["amount_fen"] = 0;
  auto amended = records_->AmendActivity("kjj", "li", amend);
  ASSERT_TRUE(amended.ok()) << amended.status();
  f = records_->GetIndicatorValues("kjj", "2023");
  EXPECT_FALSE(Value(*f, "dues_collected").missing());
  EXPECT_EQ(Value(*f, "dues_collected").display(), "0");

  // Amended back without it: missing again (the count follows amends).
  *amend.mutable_activity() = *amended;
  amend.mutable_activity()->mutable_quantities()->erase("amount_fen");
  ASSERT_TRUE(records_->AmendActivity("kjj", "li", amend).ok());
  f = records_->GetIndicatorValues("kjj", "2023");
  EXPECT_TRUE(Value(*f, "dues_collected").missing());
}

// A ratio's record count is the records behind it, each once, as its
// provenance lists them: terms over the same records do not double it.
TEST_F(RecordsStoreTest, ARatioCountsEachRecordBehindItOnce) {
  ASSERT_TRUE(records_->LoadProfile("kjj", WithOptionalSumAndSharedRatio(), "").ok());
  for (int day = 1; day <= 9; ++day) {
    ASSERT_TRUE(
        records_->CreateActivity("kjj", "li", Talk(absl::StrFormat("2023-03-%02d", day), 4), "")
            .ok());
  }
  v1::ActivityRecord snapshot;
  snapshot.set_type("online_academy_snapshot");
  snapshot.set_occurred_on("2023-06-30");
  (*snapshot.mutable_quantities())["enrolled"] = 80;
  (*snapshot.mutable_quantities())["completed"] = 60;
  ASSERT_TRUE(records_->CreateActivity("kjj", "li", snapshot, "").ok());
  auto f = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(f.ok()) << f.status();
  for (const auto& [key, records] : std::vector<std::pair<std::string, int64_t>>{
           {"participants_per_talk", 9}, {"online_academy_completion_rate", 1}}) {
    EXPECT_EQ(Value(*f, key).record_count(), records) << key;
    auto prov = records_->GetIndicatorProvenance("kjj", key, "2023", 0, "");
    ASSERT_TRUE(prov.ok()) << prov.status();
    EXPECT_EQ(prov->total_records(), records) << key;
    EXPECT_EQ(prov->value().record_count(), records) << key;
  }
  EXPECT_EQ(Value(*f, "participants_per_talk").display(), "400");
}

// Independent arithmetic over the raw records, to hold the aggregates to.
std::map<std::string, std::pair<int64_t, bool>> Recompute(
    const v1::Profile& profile, const std::vector<v1::ActivityRecord>& all,
    const std::string& first, const std::string& last) {
  std::map<std::string, std::pair<int64_t, bool>> out;  // key → (value, missing)
  for (const auto& ind : profile.indicators()) {
    const auto& m = ind.measure();
    if (m.kind() == v1::MEASURE_KIND_RATIO) continue;
    std::set<std::string> types(m.activity_types().begin(), m.activity_types().end());
    int64_t count = 0, sum = 0, stated = 0;
    std::set<std::string> persons;
    std::string latest_date, latest_name;
    int64_t latest = 0;
    for (const auto& r : all) {
      if (r.voided() || !types.count(r.type())) continue;
      if (r.occurred_on() < first || r.occurred_on() > last) continue;
      ++count;
      auto q = r.quantities().find(m.quantity());
      if (q != r.quantities().end()) {
        sum += q->second;
        ++stated;
      }
      persons.insert(r.persons().begin(), r.persons().end());
      if (std::tie(r.occurred_on(), r.name()) > std::tie(latest_date, latest_name)) {
        latest_date = r.occurred_on();
        latest_name = r.name();
        latest = q == r.quantities().end() ? 0 : q->second;
      }
    }
    int64_t value = m.kind() == v1::MEASURE_KIND_COUNT      ? count
                    : m.kind() == v1::MEASURE_KIND_SUM      ? sum
                    : m.kind() == v1::MEASURE_KIND_DISTINCT ? static_cast<int64_t>(persons.size())
                                                            : latest;
    // A sum no record states is missing, not 0.
    out[ind.key()] = {value, count == 0 || (m.kind() == v1::MEASURE_KIND_SUM && stated == 0)};
  }
  return out;
}

TEST_F(RecordsStoreTest, AggregatesEqualARecomputationAfterRandomHistory) {
  v1::Profile profile = ShippedProfile();
  // A DISTINCT over two activity types: always a union.
  v1::Indicator* both = profile.add_indicators();
  both->set_key("persons_served");
  both->set_label("志愿服务或走访慰问的人员");
  both->set_unit("名");
  both->mutable_measure()->set_kind(v1::MEASURE_KIND_DISTINCT);
  both->mutable_measure()->add_activity_types("epidemic_volunteer_service");
  both->mutable_measure()->add_activity_types("needy_member_visit");
  // A SUM of an optional quantity.
  v1::Indicator* dues = profile.add_indicators();
  dues->set_key("dues_collected");
  dues->set_unit("元");
  dues->mutable_measure()->set_kind(v1::MEASURE_KIND_SUM);
  dues->mutable_measure()->add_activity_types("party_dues_collection");
  dues->mutable_measure()->set_quantity("amount_fen");
  ASSERT_TRUE(records_->LoadProfile("kjj", profile, "").ok());
  SampleYear sample = GenerateSampleYear(profile, 2023, 99);
  SplitMix rng(7);
  std::vector<std::string> names;
  for (const auto& r : sample.records) {
    auto created = records_->CreateActivity("kjj", "li", r, "");
    ASSERT_TRUE(created.ok()) << created.status();
    names.push_back(created->name());
  }
  // Random corrections: change dates across months and years, quantities,
  // persons; void some.
  for (int step = 0; step < 150; ++step) {
    const std::string& name = names[rng.Range(0, names.size() - 1)];
    std::string id = name.substr(name.rfind('/') + 1);
    auto cur = records_->GetActivity("kjj", id);
    ASSERT_TRUE(cur.ok());
    if (cur->voided()) continue;
    if (rng.Range(0, 5) == 0) {
      v1::VoidActivityRequest v;
      v.set_name(name);
      v.set_reason("test");
      ASSERT_TRUE(records_->VoidActivity("kjj", "t", v).ok());
      continue;
    }
    v1::AmendActivityRequest a;
    *a.mutable_activity() = *cur;
    a.mutable_activity()->set_occurred_on(
        absl::StrFormat("%d-%02d-%02d", rng.Range(2022, 2023), rng.Range(1, 12), rng.Range(1, 28)));
    for (auto& [k, v] : *a.mutable_activity()->mutable_quantities()) v = rng.Range(0, 50);
    if (a.activity().persons_size() > 0) {
      a.mutable_activity()->clear_persons();
      for (int k = 0; k < rng.Range(1, 4); ++k) {
        a.mutable_activity()->add_persons(absl::StrCat("staff-", rng.Range(1, 10)));
      }
    }
    ASSERT_TRUE(records_->AmendActivity("kjj", "t", a).ok());
  }
  std::vector<v1::ActivityRecord> all;
  all.reserve(names.size());
  for (const auto& name : names) {
    all.push_back(*records_->GetActivity("kjj", name.substr(name.rfind('/') + 1)));
  }
  // The same store read with no inline budget: every union is scanned
  // outside Lua, in steps of 2 entries.
  RecordsOptions scan_options;
  scan_options.profile_cache_ttl = absl::ZeroDuration();
  scan_options.distinct_inline_budget = 0;
  scan_options.distinct_scan_count = 2;
  RecordsCore scanned(client_.get(), scan_options);
  for (const std::string period :
       {"2023", "2022", "2023-Q2", "2023-H2", "2023-07", "2022-11..2023-10", "2022..2023",
        "2023-02..2023-11", "2022-03..2023-05", "2022-12..2023-01", "2023-05..2023-06"}) {
    for (RecordsCore* store : {records_.get(), &scanned}) {
      auto resp = store->GetIndicatorValues("kjj", period);
      ASSERT_TRUE(resp.ok()) << resp.status();
      auto expected = Recompute(profile, all, resp->first_day(), resp->last_day());
      for (const auto& v : resp->values()) {
        auto it = expected.find(v.key());
        if (it == expected.end()) continue;  // Ratios: checked through their terms.
        EXPECT_EQ(v.missing(), it->second.second) << period << " " << v.key();
        if (!v.missing()) {
          EXPECT_EQ(v.value(), it->second.first) << period << " " << v.key();
        }
      }
    }
  }
}

v1::ActivityRecord Volunteers(const std::string& date, int first, int n) {
  v1::ActivityRecord r;
  r.set_type("epidemic_volunteer_service");
  r.set_occurred_on(date);
  r.set_title("疫情防控志愿服务");
  for (int i = 0; i < n; ++i) r.add_persons(absl::StrFormat("person-%06d", first + i));
  return r;
}

// The attack of issue 9: a batch naming 10 000 persons per record.
TEST_F(RecordsStoreTest, PersonsPerRecordAndPerBatchAreCapped) {
  auto one = records_->CreateActivity("kjj", "li", Volunteers("2023-03-01", 0, 10000), "");
  EXPECT_EQ(one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(
      std::string(one.status().message()).find("activity.persons: 10000 persons, at most 500"),
      std::string::npos)
      << one.status();
  v1::BatchCreateActivitiesRequest attack;
  for (int i = 0; i < 20; ++i) {
    *attack.add_requests()->mutable_activity() = Volunteers("2023-03-01", i * 10000, 10000);
  }
  auto batch = records_->BatchCreateActivities("kjj", "li", attack);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(batch.status().message()).find("persons in the batch, at most 5000"),
            std::string::npos)
      << batch.status();
  // Under the per-record cap, over the per-batch one: refused whole.
  v1::BatchCreateActivitiesRequest wide;
  for (int i = 0; i < 11; ++i) {
    *wide.add_requests()->mutable_activity() = Volunteers("2023-03-01", i * 500, 500);
  }
  EXPECT_EQ(records_->BatchCreateActivities("kjj", "li", wide).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(client_->Command({"GET", "gr:{kjj}:dv"})->IsNil());  // Nothing was written.
  wide.mutable_requests()->RemoveLast();
  auto ok = records_->BatchCreateActivities("kjj", "li", wide);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->created(), 10);
}

TEST_F(RecordsStoreTest, DistinctPersonsPerTypeAndYearAreCapped) {
  RecordsOptions o;
  o.max_persons_per_year = 5;
  RecordsCore capped(client_.get(), o);
  auto a = capped.CreateActivity("kjj", "li", Volunteers("2023-03-01", 0, 5), "");
  ASSERT_TRUE(a.ok()) << a.status();
  auto more = capped.CreateActivity("kjj", "li", Volunteers("2023-09-01", 4, 2), "");
  EXPECT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(more.status().message()).find("--max-persons-per-year"), std::string::npos)
      << more.status();
  // The same persons again, another year, another type: all fine.
  ASSERT_TRUE(capped.CreateActivity("kjj", "li", Volunteers("2023-09-01", 1, 4), "").ok());
  ASSERT_TRUE(capped.CreateActivity("kjj", "li", Volunteers("2022-09-01", 10, 5), "").ok());
  v1::ActivityRecord visit = Volunteers("2023-09-01", 20, 5);
  visit.set_type("needy_member_visit");
  ASSERT_TRUE(capped.CreateActivity("kjj", "li", visit, "").ok());
  // At the cap, an amend that frees person 0 may name person 9 instead.
  v1::AmendActivityRequest swap;
  *swap.mutable_activity() = Volunteers("2023-03-01", 1, 4);
  swap.mutable_activity()->add_persons("person-000009");
  swap.mutable_activity()->set_name(a->name());
  auto swapped = capped.AmendActivity("kjj", "li", swap);
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  auto f = capped.GetIndicatorValues("kjj", "2023");
  EXPECT_EQ(Value(*f, "epidemic_volunteers").value(), 5);
}

TEST_F(RecordsStoreTest, DailyQuotasAreResourceExhaustedUntilTheNextUtcDay) {
  absl::Time now = absl::FromCivil(absl::CivilSecond(2026, 12, 1, 23, 59, 0), absl::UTCTimeZone());
  RecordsOptions o;
  o.quota_records_per_day = 3;
  o.quota_bytes_per_day = 20000;
  o.clock = [&now] { return now; };
  RecordsCore quota(client_.get(), o);
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    auto r = quota.CreateActivity("kjj", "li", Talk("2023-03-01", i), absl::StrCat("q-", i));
    ASSERT_TRUE(r.ok()) << r.status();
    names.push_back(r->name());
  }
  // A replay is answered, not counted.
  ASSERT_TRUE(quota.CreateActivity("kjj", "li", Talk("2023-03-01", 0), "q-0").ok());
  auto refused = quota.CreateActivity("kjj", "li", Talk("2023-03-01", 9), "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  std::string msg(refused.status().message());
  EXPECT_NE(msg.find("quota records_per_day is used up: 3 of 3 record writes on 2026-12-01"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("resets at 2026-12-02T00:00:00Z"), std::string::npos) << msg;
  v1::VoidActivityRequest v;
  v.set_name(names[0]);
  v.set_reason("重复");
  EXPECT_EQ(quota.VoidActivity("kjj", "li", v).status().code(),
            absl::StatusCode::kResourceExhausted);
  // The platform operator is exempt.
  ASSERT_TRUE(quota.CreateActivity("kjj", "op", Talk("2023-03-01", 9), "", true).ok());
  EXPECT_EQ(Value(*quota.GetIndicatorValues("kjj", "2023"), "heart_to_heart_talks").record_count(),
            4);
  now += absl::Minutes(1);  // 2026-12-02, UTC.
  ASSERT_TRUE(quota.VoidActivity("kjj", "li", v).ok());
  // Bytes: a 4 KiB note five times is more than 20 000 bytes.
  absl::Status last;
  int written = 0;
  for (int i = 0; i < 5 && last.ok(); ++i) {
    v1::ActivityRecord big = Talk("2023-04-01", 1);
    big.set_note(std::string(4000, 'x'));
    last = quota.CreateActivity("kjj", "li", big, "").status();
    if (last.ok()) ++written;
  }
  EXPECT_EQ(written, 2);  // With the void, the records quota ends it at 3 writes.
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(RecordsStoreTest, BytesQuotaIsResourceExhausted) {
  RecordsOptions o;
  o.quota_bytes_per_day = 20000;  // A record of 4 KB weighs about 8.5 KB: itself and its history.
  RecordsCore quota(client_.get(), o);
  absl::Status last;
  int written = 0;
  for (int i = 0; i < 5 && last.ok(); ++i) {
    v1::ActivityRecord big = Talk("2023-04-01", 1);
    big.set_note(std::string(4000, 'x'));
    last = quota.CreateActivity("kjj", "li", big, "").status();
    if (last.ok()) ++written;
  }
  EXPECT_EQ(written, 2);
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(last.message()).find("quota bytes_per_day is used up"), std::string::npos)
      << last;
}

// One org holds the most persons the caps allow; neither its own reads
// nor another org's do more than the inline budget of work in one script:
// the big unions are scanned outside Lua, in bounded steps.
TEST_F(RecordsStoreTest, ReadScriptsDoBoundedWorkWhileAnOrgHoldsItsMaximum) {
  v1::Org org;
  org.set_display_name("attacker");
  ASSERT_TRUE(records_->CreateOrg("att", org, "").ok());
  ASSERT_TRUE(records_->LoadProfile("att", ShippedProfile(), "").ok());
  RecordsOptions o;
  o.max_persons_per_year = 6000;
  RecordsCore att(client_.get(), o);
  // 6 000 distinct persons a year in 2022 and 2023, 500 per record, a
  // different month each.
  for (int year : {2022, 2023}) {
    for (int b = 0; b < 12; ++b) {
      v1::BatchCreateActivitiesRequest req;
      *req.add_requests()->mutable_activity() =
          Volunteers(absl::StrFormat("%d-%02d-10", year, b + 1), b * 500, 500);
      auto resp = att.BatchCreateActivities("att", "x", req);
      ASSERT_TRUE(resp.ok() && resp->created() == 1) << resp.status();
    }
  }
  // Over the cap: refused.
  EXPECT_EQ(att.CreateActivity("att", "x", Volunteers("2023-05-01", 6000, 1), "").status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(records_->CreateActivity("kjj", "li", Volunteers("2023-05-01", 0, 3), "").ok());

  auto script_work = [&](const std::string& org_id, const std::string& period) -> int64_t {
    auto profile = records_->GetProfile(org_id);
    auto p = ParsePeriod(period);
    auto r = client_->Eval(ReadFiguresScript(), {absl::StrCat("gr:{", org_id, "}:dv")},
                           {(*profile)->ReadSpec(*p), "4096"});
    EXPECT_TRUE(r.ok());
    return r->Size() > 4 ? (*r)[4].Int() : -1;
  };
  // The statistics of the node holding att's slot (the only node but on a
  // cluster).
  auto att_node = client_->Acquire("gr:{att}:dv");
  ASSERT_TRUE(att_node.ok());
  ASSERT_TRUE((*att_node)->Command({"CONFIG", "RESETSTAT"}).ok());
  for (const std::string period :
       {"2023", "2023-Q2", "2023-05", "2022-11..2023-10", "2022..2023", "2022-02..2023-11"}) {
    // In one script, at most the budget, however many persons the org has.
    int64_t work = script_work("att", period);
    EXPECT_GE(work, 0) << period;
    EXPECT_LE(work, 4096) << period;
    EXPECT_LE(script_work("kjj", period), 3) << period;
    // And the figures stay exact.
    auto values = records_->GetIndicatorValues("att", period);
    ASSERT_TRUE(values.ok()) << values.status();
    auto p = ParsePeriod(period);
    // Both years name the same 500 persons in the same month of the year.
    std::set<int> months_of_year;
    for (int m = p->first_month; m <= p->last_month; ++m) months_of_year.insert(m % 12);
    int64_t expected = 500 * static_cast<int64_t>(months_of_year.size());
    EXPECT_EQ(Value(*values, "epidemic_volunteers").value(), expected) << period;
    auto victim = records_->GetIndicatorValues("kjj", period);
    ASSERT_TRUE(victim.ok());
    EXPECT_EQ(Value(*victim, "epidemic_volunteers").value(),
              p->first_month <= 2023 * 12 + 4 && p->last_month >= 2023 * 12 + 4 ? 3 : 0)
        << period;
  }
  // The big unions went through HSCAN, outside Lua.
  auto stats = (*att_node)->Command({"INFO", "commandstats"});
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(std::string(stats->Str()).find("cmdstat_hscan:"), std::string::npos);
}

}  // namespace
}  // namespace govreport::records
