// The event feed end to end in-process: records writes each change's event
// in the same Lua step (an outbox), EventService streams the caller's org's
// events from a cursor, now or the oldest kept, against a real redis-server.
#include "common/events.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/server.h"
#include "common/status.h"
#include "events/core.h"
#include "events/grpc_service.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "gtest/gtest.h"
#include "records/grpc_service.h"
#include "redis_server.h"
#include "shipped_profile.h"

namespace govreport::events {
namespace {

namespace apb = ::govreport::auth::v1;
namespace rpb = ::govreport::records::v1;
using Response = v1::StreamEventsResponse;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.ok());
    client_ = std::make_unique<redis::Client>(redis_server_.options());
    authn_ =
        std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::ZeroDuration());
    records_ = std::make_unique<records::RecordsCore>(client_.get());
    orgs_ = std::make_unique<records::OrgGrpc>(records_.get(), authn_.get());
    indicators_ = std::make_unique<records::IndicatorGrpc>(records_.get(), authn_.get());
    activities_ = std::make_unique<records::ActivityGrpc>(records_.get(), authn_.get());
    auth_service_ = std::make_unique<records::AuthGrpc>(authn_.get());
    feed_ = std::make_unique<EventsCore>(client_.get(), limits_);
    events_ = std::make_unique<EventsGrpc>(feed_.get(), authn_.get());
    ServerOptions o;
    o.services = {orgs_.get(), indicators_.get(), activities_.get(), auth_service_.get(),
                  events_.get()};
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    for (const char* org : {"kjj", "jyj"}) SetUpOrg(org);
    kjj_ = Issue("kjj", {"recorder"});
    jyj_ = Issue("jyj", {"recorder"});
  }

  void SetUpOrg(const std::string& org) {
    rpb::CreateOrgRequest req;
    req.set_org_id(org);
    req.mutable_org()->set_display_name(org);
    rpb::Org out;
    ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                  return rpb::OrgService::Stub(channel_).CreateOrg(&ctx, req, &out);
                }).ok());
    rpb::LoadProfileRequest load;
    load.set_parent(absl::StrCat("orgs/", org));
    *load.mutable_profile() = govreport::testing::ShippedProfile();
    rpb::LoadProfileResponse lr;
    ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                  return rpb::IndicatorService::Stub(channel_).LoadProfile(&ctx, load, &lr);
                }).ok());
  }

  template <typename F>
  grpc::Status Call(const std::string& token, F f) {
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return f(ctx);
  }

  std::string Issue(const std::string& org, const std::vector<std::string>& roles) {
    apb::IssueTokenRequest req;
    req.mutable_principal()->set_subject(absl::StrCat(org, "-user"));
    req.mutable_principal()->set_org(org);
    for (auto& r : roles) req.mutable_principal()->add_roles(r);
    apb::IssueTokenResponse resp;
    auto st = Call("op-secret", [&](auto& ctx) {
      return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &resp);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.token();
  }

  static rpb::ActivityRecord Record(int n) {
    rpb::ActivityRecord a;
    a.set_type("theme_party_day");
    a.set_occurred_on(absl::StrCat("2023-05-", 10 + n % 18));
    a.set_title(absl::StrCat("主题党日 ", n));
    return a;
  }

  rpb::ActivityRecord Create(const std::string& token, const std::string& org, int n,
                             const std::string& request_id = "") {
    rpb::CreateActivityRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    *req.mutable_activity() = Record(n);
    req.set_request_id(request_id);
    rpb::ActivityRecord out;
    auto st = Call(token, [&](auto& ctx) {
      return rpb::ActivityService::Stub(channel_).CreateActivity(&ctx, req, &out);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  rpb::BatchCreateActivitiesResponse Batch(const std::string& token,
                                           const rpb::BatchCreateActivitiesRequest& req) {
    rpb::BatchCreateActivitiesResponse out;
    auto st = Call(token, [&](auto& ctx) {
      return rpb::ActivityService::Stub(channel_).BatchCreateActivities(&ctx, req, &out);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  rpb::ActivityRecord Amend(const std::string& token, rpb::ActivityRecord rec,
                            const std::string& reason, const std::string& request_id = "") {
    rpb::AmendActivityRequest req;
    rec.set_title(rec.title() + " (改)");
    *req.mutable_activity() = rec;
    req.set_reason(reason);
    req.set_request_id(request_id);
    rpb::ActivityRecord out;
    auto st = Call(token, [&](auto& ctx) {
      return rpb::ActivityService::Stub(channel_).AmendActivity(&ctx, req, &out);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  rpb::ActivityRecord Void(const std::string& token, const std::string& name,
                           const std::string& reason) {
    rpb::VoidActivityRequest req;
    req.set_name(name);
    req.set_reason(reason);
    rpb::ActivityRecord out;
    auto st = Call(token, [&](auto& ctx) {
      return rpb::ActivityService::Stub(channel_).VoidActivity(&ctx, req, &out);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  // An open stream; a deadline keeps a broken test from hanging.
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<Response>> reader;
    // The next event, passing over heartbeats; false when the stream ended.
    bool NextEvent(v1::Event* out) {
      Response r;
      while (reader->Read(&r)) {
        if (r.has_event()) {
          *out = r.event();
          return true;
        }
      }
      return false;
    }
  };
  std::unique_ptr<Stream> Open(const std::string& token, v1::StreamEventsRequest req) {
    auto s = std::make_unique<Stream>();
    auth::AttachToken(s->ctx, token);
    s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    if (req.parent().empty()) req.set_parent("orgs/kjj");
    if (req.heartbeat_seconds() == 0) req.set_heartbeat_seconds(1);
    s->reader = v1::EventService::Stub(channel_).StreamEvents(&s->ctx, req);
    return s;
  }
  static v1::StreamEventsRequest From(v1::StartPosition p) {
    v1::StreamEventsRequest req;
    req.set_position(p);
    return req;
  }
  static v1::StreamEventsRequest After(const std::string& cursor) {
    v1::StreamEventsRequest req;
    req.set_after_cursor(cursor);
    return req;
  }
  // How the stream ended, when it ends at once (a refused open).
  grpc::Status Refusal(const std::string& token, v1::StreamEventsRequest req) {
    auto s = Open(token, std::move(req));
    Response r;
    while (s->reader->Read(&r)) {
    }
    return s->reader->Finish();
  }
  static errors::Details DetailsOf(const grpc::Status& st) {
    return errors::DetailsOf(FromGrpcStatus(st));
  }
  int64_t LogLength(const std::string& org) {
    auto r = client_->Command({"XLEN", StreamKey(org)});
    return r.ok() ? r->Int() : -1;
  }

  EventsOptions limits_;
  testing::RedisServer redis_server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<records::RecordsCore> records_;
  std::unique_ptr<records::OrgGrpc> orgs_;
  std::unique_ptr<records::IndicatorGrpc> indicators_;
  std::unique_ptr<records::ActivityGrpc> activities_;
  std::unique_ptr<records::AuthGrpc> auth_service_;
  std::unique_ptr<EventsCore> feed_;
  std::unique_ptr<EventsGrpc> events_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string kjj_, jyj_;
};

TEST_F(EventsTest, CursorsParseAndOrder) {
  auto c = ParseCursor("1700000000000-3");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ToString(), "1700000000000-3");
  EXPECT_TRUE(*ParseCursor("5-9") < *ParseCursor("6-0"));
  EXPECT_TRUE(*ParseCursor("6-0") < *ParseCursor("6-1"));
  for (const char* bad : {"", "5", "5-", "-5", "a-1", "1-2-3", "1 -2", "99999999999999999999-0"}) {
    EXPECT_FALSE(ParseCursor(bad).ok()) << bad;
  }
}

// Create, batch (a replayed item and a refused one write nothing), amend
// with its reason, void: each change's event in commit order with its payload.
TEST_F(EventsTest, ChangesArriveInCommitOrderWithPayloads) {
  rpb::ActivityRecord first = Create(kjj_, "kjj", 1, "req-1");
  rpb::BatchCreateActivitiesRequest batch;
  batch.set_parent("orgs/kjj");
  for (int i = 0; i < 4; ++i) {
    auto* one = batch.add_requests();
    *one->mutable_activity() = Record(i == 0 ? 1 : 10 + i);
    one->set_request_id(i == 0 ? "req-1" : absl::StrCat("batch-", i));
  }
  batch.mutable_requests(3)->mutable_activity()->set_type("no_such_type");
  auto answer = Batch(kjj_, batch);
  ASSERT_EQ(answer.created(), 2);
  ASSERT_EQ(answer.already_present(), 1);
  ASSERT_EQ(answer.failed(), 1);
  rpb::ActivityRecord amended = Amend(kjj_, first, "日期录错", "amend-1");
  rpb::ActivityRecord voided = Void(kjj_, answer.results(1).activity().name(), "重复录入");

  auto s = Open(kjj_, From(v1::START_POSITION_OLDEST));
  std::vector<v1::Event> got(5);
  for (auto& e : got) ASSERT_TRUE(s->NextEvent(&e));
  s->ctx.TryCancel();
  EXPECT_EQ(LogLength("kjj"), 5);

  EXPECT_EQ(got[0].kind(), v1::EVENT_KIND_ACTIVITY_CREATED);
  EXPECT_EQ(got[0].activity_created().activity().name(), first.name());
  EXPECT_EQ(got[0].activity_created().activity().create_sequence(), first.create_sequence());
  EXPECT_EQ(got[0].activity_created().activity().change_sequence(), first.change_sequence());
  EXPECT_EQ(got[0].request_id(), "req-1");
  EXPECT_EQ(got[0].actor(), "kjj-user");
  EXPECT_EQ(got[0].org(), "orgs/kjj");
  EXPECT_GT(got[0].time().seconds(), 0);
  for (int i = 1; i <= 2; ++i) {
    EXPECT_EQ(got[i].kind(), v1::EVENT_KIND_ACTIVITY_CREATED);
    EXPECT_EQ(got[i].activity_created().activity().name(), answer.results(i).activity().name());
    EXPECT_EQ(got[i].request_id(), absl::StrCat("batch-", i));
  }
  EXPECT_EQ(got[3].kind(), v1::EVENT_KIND_ACTIVITY_AMENDED);
  EXPECT_EQ(got[3].activity_amended().reason(), "日期录错");
  EXPECT_EQ(got[3].activity_amended().activity().revision(), 2);
  EXPECT_EQ(got[3].activity_amended().activity().title(), amended.title());
  EXPECT_EQ(got[3].activity_amended().activity().change_sequence(), amended.change_sequence());
  EXPECT_EQ(got[3].request_id(), "amend-1");
  EXPECT_EQ(got[4].kind(), v1::EVENT_KIND_ACTIVITY_VOIDED);
  EXPECT_EQ(got[4].activity_voided().activity(), voided.name());
  EXPECT_EQ(got[4].activity_voided().reason(), "重复录入");
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_TRUE(*ParseCursor(got[i - 1].cursor()) < *ParseCursor(got[i].cursor()));
  }
}

// What the subscriber expects to see once per change: kind, record and
// revision.
std::string KeyOf(const v1::Event& e) {
  switch (e.kind()) {
    case v1::EVENT_KIND_ACTIVITY_CREATED:
      return absl::StrCat("created ", e.activity_created().activity().name());
    case v1::EVENT_KIND_ACTIVITY_AMENDED:
      return absl::StrCat("amended ", e.activity_amended().activity().name(), "@",
                          e.activity_amended().activity().revision());
    case v1::EVENT_KIND_ACTIVITY_VOIDED:
      return absl::StrCat("voided ", e.activity_voided().activity());
    default:
      return absl::StrCat("other ", e.cursor());
  }
}

// The issue's proof: a subscriber reads a few events and is cancelled;
// 5 000 changes happen in two orgs (creates in batches, amends, voids); it
// resumes from its last cursor and finds each change of its org exactly
// once and none of the other org's.
TEST_F(EventsTest, ResumedSubscriberFindsEachChangeExactlyOnce) {
  std::vector<rpb::ActivityRecord> early;
  early.reserve(5);
  for (int i = 0; i < 5; ++i) early.push_back(Create(kjj_, "kjj", i));
  std::string cursor;
  {
    auto s = Open(kjj_, From(v1::START_POSITION_OLDEST));
    v1::Event e;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(s->NextEvent(&e));
      cursor = e.cursor();
    }
    s->ctx.TryCancel();
    s->reader->Finish();
  }
  std::map<std::string, int> expected;
  for (int i = 3; i < 5; ++i) expected[absl::StrCat("created ", early[i].name())] = 0;
  // kjj: 2 000 creates in batches of 200, 600 amends, 400 voids; jyj: 1 600
  // creates, 200 amends, 200 voids, interleaved.
  std::map<std::string, std::vector<rpb::ActivityRecord>> created;
  int changes = 0;
  for (int b = 0; b < 10; ++b) {
    for (const auto& [org, token] : {std::pair{"kjj", kjj_}, std::pair{"jyj", jyj_}}) {
      if (std::string(org) == "jyj" && b >= 8) continue;
      rpb::BatchCreateActivitiesRequest batch;
      batch.set_parent(absl::StrCat("orgs/", org));
      for (int i = 0; i < 200; ++i) {
        auto* one = batch.add_requests();
        *one->mutable_activity() = Record(b * 200 + i);
        one->set_request_id(absl::StrCat(org, "-", b, "-", i));
      }
      auto answer = Batch(token, batch);
      ASSERT_EQ(answer.created(), 200);
      for (const auto& r : answer.results()) {
        created[org].push_back(r.activity());
        if (std::string(org) == "kjj") expected[absl::StrCat("created ", r.activity().name())] = 0;
      }
      changes += 200;
    }
  }
  for (int i = 0; i < 600; ++i) {
    auto rec = Amend(kjj_, created["kjj"][i], absl::StrCat("第 ", i, " 次更正"));
    expected[absl::StrCat("amended ", rec.name(), "@", rec.revision())] = 0;
    if (i < 200) Amend(jyj_, created["jyj"][i], "更正");
    changes += i < 200 ? 2 : 1;
  }
  for (int i = 600; i < 1000; ++i) {
    auto rec = Void(kjj_, created["kjj"][i].name(), "重复录入");
    expected[absl::StrCat("voided ", rec.name())] = 0;
    if (i < 800) Void(jyj_, created["jyj"][i].name(), "重复录入");
    changes += i < 800 ? 2 : 1;
  }
  ASSERT_EQ(changes, 5000);

  auto s = Open(kjj_, After(cursor));
  size_t received = 0;
  v1::Event e;
  while (received < expected.size() && s->NextEvent(&e)) {
    ++received;
    ASSERT_EQ(e.org(), "orgs/kjj");
    auto it = expected.find(KeyOf(e));
    ASSERT_NE(it, expected.end()) << KeyOf(e);
    ++it->second;
  }
  // Then only a heartbeat, at the last event's cursor: nothing more comes.
  Response r;
  ASSERT_TRUE(s->reader->Read(&r));
  EXPECT_TRUE(r.has_heartbeat());
  EXPECT_EQ(r.heartbeat().cursor(), e.cursor());
  s->ctx.TryCancel();
  for (const auto& [key, count] : expected) EXPECT_EQ(count, 1) << key;
  EXPECT_EQ(received, size_t{3002});
}

TEST_F(EventsTest, ARepeatedRequestWritesNoSecondEvent) {
  rpb::ActivityRecord rec = Create(kjj_, "kjj", 1, "same");
  Create(kjj_, "kjj", 1, "same");
  Amend(kjj_, rec, "why", "amend-same");
  Amend(kjj_, rec, "why", "amend-same");
  EXPECT_EQ(LogLength("kjj"), 2);
}

TEST_F(EventsTest, OnlyTheCallersOrg) {
  Create(jyj_, "jyj", 1);
  Create(kjj_, "kjj", 2);
  v1::StreamEventsRequest other = From(v1::START_POSITION_OLDEST);
  other.set_parent("orgs/jyj");
  grpc::Status st = Refusal(kjj_, other);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto s = Open(kjj_, From(v1::START_POSITION_OLDEST));
  v1::Event e;
  ASSERT_TRUE(s->NextEvent(&e));
  EXPECT_EQ(e.org(), "orgs/kjj");
  // The next message is a heartbeat: jyj's event never comes.
  Response r;
  ASSERT_TRUE(s->reader->Read(&r));
  EXPECT_TRUE(r.has_heartbeat());
  EXPECT_EQ(r.heartbeat().cursor(), e.cursor());
}

TEST_F(EventsTest, NowMissesNothingCommittedAfterTheOpenAndFiltersKinds) {
  rpb::ActivityRecord before = Create(kjj_, "kjj", 1);
  v1::StreamEventsRequest req = From(v1::START_POSITION_NOW);
  req.add_kinds(v1::EVENT_KIND_ACTIVITY_AMENDED);
  auto s = Open(kjj_, req);
  Response r;
  ASSERT_TRUE(s->reader->Read(&r));  // Open: a heartbeat at the log's last id.
  ASSERT_TRUE(r.has_heartbeat());
  Create(kjj_, "kjj", 2);
  Amend(kjj_, before, "改标题");
  v1::Event e;
  ASSERT_TRUE(s->NextEvent(&e));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_ACTIVITY_AMENDED);
  EXPECT_EQ(e.activity_amended().activity().name(), before.name());
}

TEST_F(EventsTest, HeartbeatOnAnIdleStream) {
  Create(kjj_, "kjj", 1);
  auto s = Open(kjj_, From(v1::START_POSITION_NOW));
  Response r;
  ASSERT_TRUE(s->reader->Read(&r));
  ASSERT_TRUE(r.has_heartbeat());
  auto last = client_->Command({"XREVRANGE", StreamKey("kjj"), "+", "-", "COUNT", "1"});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(r.heartbeat().cursor(), (*last)[0][0].AsString());
  EXPECT_GT(r.heartbeat().time().seconds(), 0);
}

TEST_F(EventsTest, BadRequestsAreInvalidArgument) {
  grpc::Status st = Refusal(kjj_, After("yesterday"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  errors::Details d = DetailsOf(st);
  EXPECT_EQ(d.reason, "EVENT_CURSOR_INVALID");
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].field, "after_cursor");
  Create(kjj_, "kjj", 1);
  st = Refusal(kjj_, After("99999999999999-0"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(DetailsOf(st).reason, "EVENT_CURSOR_UNKNOWN");
  v1::StreamEventsRequest req = From(v1::START_POSITION_NOW);
  req.set_heartbeat_seconds(301);
  EXPECT_EQ(Refusal(kjj_, req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = From(v1::START_POSITION_NOW);
  req.add_kinds(static_cast<v1::EventKind>(99));
  EXPECT_EQ(Refusal(kjj_, req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Entries after the cursor trimmed: OUT_OF_RANGE EVENT_CURSOR_EXPIRED. XTRIM
// MINID without ~ makes the trim exact (the writers' MINID ~ drops whole
// nodes only).
TEST_F(EventsTest, ExpiredCursorIsOutOfRange) {
  for (int i = 0; i < 4; ++i) Create(kjj_, "kjj", i);
  auto ids = client_->Command({"XRANGE", StreamKey("kjj"), "-", "+"});
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->Size(), 4u);
  std::string first = (*ids)[0][0].AsString(), second = (*ids)[1][0].AsString();
  std::string third = (*ids)[2][0].AsString(), fourth = (*ids)[3][0].AsString();
  ASSERT_TRUE(client_->Command({"XTRIM", StreamKey("kjj"), "MINID", third}).ok());
  grpc::Status st = Refusal(kjj_, After(first));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(DetailsOf(st).reason, "EVENT_CURSOR_EXPIRED");
  // Redis 7.0 does not say which ids a trim removed: a trimmed cursor is
  // expired even when it was the last one removed (docs/events.md).
  EXPECT_EQ(Refusal(kjj_, After(second)).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  // The first kept one still resumes.
  auto s = Open(kjj_, After(third));
  v1::Event e;
  ASSERT_TRUE(s->NextEvent(&e));
  EXPECT_EQ(e.cursor(), fourth);
  s->ctx.TryCancel();
  // OLDEST starts with the oldest kept event.
  auto o = Open(kjj_, From(v1::START_POSITION_OLDEST));
  ASSERT_TRUE(o->NextEvent(&e));
  EXPECT_EQ(e.cursor(), third);
  o->ctx.TryCancel();
  // All trimmed: the last cursor still resumes, any earlier one has expired.
  ASSERT_TRUE(client_->Command({"XTRIM", StreamKey("kjj"), "MAXLEN", "0"}).ok());
  EXPECT_EQ(Refusal(kjj_, After(third)).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  auto last = Open(kjj_, After(fourth));
  Response r;
  ASSERT_TRUE(last->reader->Read(&r));
  EXPECT_EQ(r.heartbeat().cursor(), fourth);
}

class EventsLimitTest : public EventsTest {
 protected:
  EventsLimitTest() {
    limits_.max_streams = 3;
    limits_.max_streams_per_org = 2;
  }
};

TEST_F(EventsLimitTest, StreamsBeyondTheLimitsAreResourceExhausted) {
  std::vector<std::unique_ptr<Stream>> open;
  Response r;
  for (int i = 0; i < 2; ++i) {
    open.push_back(Open(kjj_, From(v1::START_POSITION_NOW)));
    ASSERT_TRUE(open.back()->reader->Read(&r));  // Served: its first heartbeat came.
  }
  grpc::Status st = Refusal(kjj_, From(v1::START_POSITION_NOW));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(DetailsOf(st).reason, "EVENT_STREAM_LIMIT");
  EXPECT_TRUE(DetailsOf(st).retry.has_value());
  v1::StreamEventsRequest other = From(v1::START_POSITION_NOW);
  other.set_parent("orgs/jyj");
  open.push_back(Open(jyj_, other));
  ASSERT_TRUE(open.back()->reader->Read(&r));
  // The server's three are taken.
  st = Refusal(jyj_, other);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  for (auto& s : open) s->ctx.TryCancel();
}

TEST_F(EventsTest, ShutdownEndsAnOpenStreamUnavailable) {
  auto s = Open(kjj_, From(v1::START_POSITION_NOW));
  Response r;
  ASSERT_TRUE(s->reader->Read(&r));
  feed_->Stop();  // What records' main does when SIGTERM comes, before the drain.
  while (s->reader->Read(&r)) {
  }
  grpc::Status st = s->reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(DetailsOf(st).reason, "SHUTTING_DOWN");
  EXPECT_TRUE(DetailsOf(st).retry.has_value());
  server_->Shutdown(absl::Seconds(5));
}

TEST_F(EventsTest, RedisFailingMidStreamEndsItUnavailable) {
  auto s = Open(kjj_, From(v1::START_POSITION_NOW));
  Response r;
  ASSERT_TRUE(s->reader->Read(&r));
  redis_server_.Kill();
  while (s->reader->Read(&r)) {
  }
  grpc::Status st = s->reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message().find("XREAD"), std::string::npos) << st.error_message();
}

}  // namespace
}  // namespace govreport::events
