#include "common/streams.h"

#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/status.h"

namespace govreport::streams {
namespace {

// Parses [[id, [k, v, k, v...]], ...]; deleted entries have a nil body.
std::vector<Entry> ParseEntries(redis::ReplyView list, const std::string& stream) {
  std::vector<Entry> out;
  out.reserve(list.Size());
  for (size_t i = 0; i < list.Size(); ++i) {
    redis::ReplyView item = list[i];
    if (item.Size() < 2 || item[1].IsNil()) continue;
    Entry e;
    e.id = item[0].AsString();
    e.stream = stream;
    redis::ReplyView kv = item[1];
    for (size_t j = 0; j + 1 < kv.Size(); j += 2) {
      e.fields.emplace_back(kv[j].AsString(), kv[j + 1].AsString());
    }
    out.push_back(std::move(e));
  }
  return out;
}

// A stream entry id, ms-seq, ordered as Redis orders them.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  bool operator<(const StreamId& o) const { return std::tie(ms, seq) < std::tie(o.ms, o.seq); }
  std::string ToString() const { return absl::StrCat(ms, "-", seq); }
  // The smallest id after this one.
  StreamId Next() const { return seq == UINT64_MAX ? StreamId{ms + 1, 0} : StreamId{ms, seq + 1}; }
};

absl::StatusOr<StreamId> ParseStreamId(absl::string_view text) {
  StreamId id;
  size_t dash = text.find('-');
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(text.substr(0, dash), &id.ms) ||
      !absl::SimpleAtoi(text.substr(dash + 1), &id.seq)) {
    return absl::InternalError(absl::StrCat("not a stream id: '", text, "'"));
  }
  return id;
}

// The first entry a group may still need: its oldest pending entry, or
// the one after the last delivered to it. XINFO GROUPS (last delivered)
// is read before XPENDING, so an entry delivered between the two reads is
// after that last delivered id and is kept either way.
absl::StatusOr<StreamId> FirstNeeded(redis::Client& client, const std::string& stream,
                                     redis::ReplyView group) {
  std::string name;
  StreamId last;
  for (size_t i = 0; i + 1 < group.Size(); i += 2) {
    if (group[i].Str() == "name") name = group[i + 1].AsString();
    if (group[i].Str() == "last-delivered-id") {
      GR_ASSIGN_OR_RETURN(last, ParseStreamId(group[i + 1].Str()));
    }
  }
  GR_ASSIGN_OR_RETURN(redis::Reply pending, client.Command({"XPENDING", stream, name}));
  if (pending[0].Int() > 0) return ParseStreamId(pending[1].Str());
  return last.Next();
}

}  // namespace

absl::StatusOr<int64_t> TrimConsumed(redis::Client& client, const std::string& stream,
                                     absl::Duration retention, absl::Time now) {
  GR_ASSIGN_OR_RETURN(redis::Reply exists, client.Command({"EXISTS", stream}));
  if (exists.Int() == 0) return 0;
  int64_t cutoff_ms = std::max<int64_t>(0, absl::ToUnixMillis(now - retention));
  StreamId min_id{static_cast<uint64_t>(cutoff_ms), 0};
  GR_ASSIGN_OR_RETURN(redis::Reply groups, client.Command({"XINFO", "GROUPS", stream}));
  for (size_t g = 0; g < groups.Size(); ++g) {
    GR_ASSIGN_OR_RETURN(StreamId needed, FirstNeeded(client, stream, groups[g]));
    min_id = std::min(min_id, needed);
  }
  // Exact (=): MINID never removes min_id or anything after it either way,
  // and the count returned is then what really went.
  GR_ASSIGN_OR_RETURN(redis::Reply trimmed,
                      client.Command({"XTRIM", stream, "MINID", "=", min_id.ToString()}));
  return static_cast<int64_t>(trimmed.Int());
}

std::string Entry::Get(absl::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return "";
}

std::string OrgStreamKey(absl::string_view global, absl::string_view org) {
  absl::string_view rest = global;
  absl::ConsumePrefix(&rest, "gr:");
  return absl::StrCat("gr:{", org, "}:", rest);
}

std::string OrgIndexKey(absl::string_view global) { return absl::StrCat(global, ":orgs"); }

redis::Args IndexOrgCommand(absl::string_view global, absl::string_view org) {
  return {"SADD", OrgIndexKey(global), std::string(org)};
}

absl::StatusOr<std::vector<std::string>> IndexedOrgs(redis::Client& client,
                                                     absl::string_view global) {
  GR_ASSIGN_OR_RETURN(redis::Reply members, client.Command({"SMEMBERS", OrgIndexKey(global)}));
  std::vector<std::string> orgs;
  orgs.reserve(members.Size());
  for (size_t i = 0; i < members.Size(); ++i) orgs.push_back(members[i].AsString());
  std::sort(orgs.begin(), orgs.end());
  return orgs;
}

absl::StatusOr<std::vector<std::string>> IndexedStreams(redis::Client& client,
                                                        absl::string_view global) {
  GR_ASSIGN_OR_RETURN(std::vector<std::string> orgs, IndexedOrgs(client, global));
  std::vector<std::string> out;
  out.reserve(orgs.size() + 1);
  for (const auto& org : orgs) out.push_back(OrgStreamKey(global, org));
  GR_ASSIGN_OR_RETURN(redis::Reply legacy, client.Command({"EXISTS", std::string(global)}));
  if (legacy.Int() > 0) out.emplace_back(global);
  return out;
}

absl::StatusOr<std::string> Add(redis::Client& client, const std::string& stream,
                                const Fields& fields) {
  redis::Args cmd{"XADD", stream, "*"};
  for (const auto& [k, v] : fields) {
    cmd.push_back(k);
    cmd.push_back(v);
  }
  GR_ASSIGN_OR_RETURN(redis::Reply reply, client.Command(cmd));
  return std::string(reply.Str());
}

std::string DefaultConsumerName(absl::string_view role) {
  char host[128] = {0};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(role, "-", host, "-", getpid(), "-", RandomHex(3));
}

Consumer::Consumer(redis::Client* client, ConsumerOptions options)
    : client_(client), options_(std::move(options)) {}

absl::Status Consumer::EnsureGroup() {
  auto reply =
      client_->Command({"XGROUP", "CREATE", options_.stream, options_.group, "0", "MKSTREAM"});
  if (!reply.ok() && reply.status().message().find("BUSYGROUP") == absl::string_view::npos) {
    return reply.status();
  }
  return absl::OkStatus();
}

absl::Status Consumer::EnsureBlockingConnection() {
  if (blocking_ && !blocking_->broken()) return absl::OkStatus();
  // In a cluster, to the master of the stream's slot.
  GR_ASSIGN_OR_RETURN(blocking_, client_->OpenDedicated(options_.stream));
  // The socket must outwait the BLOCK, or every idle read would look like
  // a dead connection.
  return blocking_->SetTimeout(options_.block + client_->options().command_timeout);
}

absl::StatusOr<std::vector<Entry>> Consumer::ReadNew() {
  GR_RETURN_IF_ERROR(EnsureBlockingConnection());
  auto reply = blocking_->Command({"XREADGROUP", "GROUP", options_.group, options_.consumer,
                                   "COUNT", absl::StrCat(options_.batch), "BLOCK",
                                   absl::StrCat(absl::ToInt64Milliseconds(options_.block)),
                                   "STREAMS", options_.stream, ">"});
  if (!reply.ok()) {
    // The group vanishes when the stream is deleted or Redis lost its data.
    if (reply.status().message().find("NOGROUP") != absl::string_view::npos) {
      GR_RETURN_IF_ERROR(EnsureGroup());
    } else if (client_->cluster()) {
      // The slot moved or its master failed over: the next read opens a
      // connection to whoever serves it now.
      blocking_.reset();
      (void)client_->RefreshSlots();
    }
    return reply.status();
  }
  if (reply->IsNil() || reply->Size() == 0) return std::vector<Entry>{};
  return ParseEntries((*reply)[0][1], options_.stream);
}

absl::StatusOr<std::vector<Entry>> Consumer::ClaimAbandoned() {
  GR_ASSIGN_OR_RETURN(
      redis::Reply reply,
      client_->Command({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                        absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle)), "0-0",
                        "COUNT", absl::StrCat(options_.batch)}));
  std::vector<Entry> entries = ParseEntries(reply[1], options_.stream);
  if (entries.empty()) return entries;
  // XAUTOCLAIM does not report delivery counts; XPENDING over the claimed
  // range does.
  GR_ASSIGN_OR_RETURN(
      redis::Reply pending,
      client_->Command({"XPENDING", options_.stream, options_.group, entries.front().id,
                        entries.back().id, absl::StrCat(entries.size() + 16), options_.consumer}));
  for (auto& e : entries) {
    for (size_t i = 0; i < pending.Size(); ++i) {
      if (pending[i][0].Str() == e.id) {
        e.deliveries = pending[i][3].Int();
        break;
      }
    }
  }
  return entries;
}

absl::Status Consumer::Ack(const std::string& id) {
  return client_->Command({"XACK", options_.stream, options_.group, id}).status();
}

absl::Status Consumer::DeadLetter(const Entry& entry, const absl::Status& reason) {
  redis::Args add{"XADD",
                  dead_stream(),
                  "*",
                  "source_id",
                  entry.id,
                  "error",
                  std::string(reason.message()),
                  "deliveries",
                  absl::StrCat(entry.deliveries)};
  for (const auto& [k, v] : entry.fields) {
    add.push_back(k);
    add.push_back(v);
  }
  GR_ASSIGN_OR_RETURN(
      auto replies,
      client_->Pipeline(
          {{"MULTI"}, add, {"XACK", options_.stream, options_.group, entry.id}, {"EXEC"}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  if (replies.back().IsNil()) return absl::AbortedError("dead-letter transaction aborted");
  return absl::OkStatus();
}

void Consumer::Handle(const Entry& entry, const Handler& handler, const DeadLetterHook& on_dead) {
  if (entry.deliveries > options_.max_deliveries) {
    absl::Status why = absl::DeadlineExceededError(
        absl::StrCat("delivered ", entry.deliveries, " times without completing"));
    if (DeadLetter(entry, why).ok() && on_dead) on_dead(entry, why);
    return;
  }
  absl::Duration backoff = options_.first_backoff;
  HandlerResult result;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    result = handler(entry);
    if (result.outcome != Outcome::kRetry) break;
    if (attempt < options_.attempts) {
      absl::SleepFor(backoff);
      backoff *= 2;
    }
  }
  switch (result.outcome) {
    case Outcome::kDone:
      // If the ack is lost the entry is redelivered; handlers are idempotent.
      (void)Ack(entry.id);
      return;
    case Outcome::kReject:
      if (DeadLetter(entry, result.error).ok() && on_dead) on_dead(entry, result.error);
      return;
    case Outcome::kRetry:
      if (entry.deliveries >= options_.max_deliveries) {
        if (DeadLetter(entry, result.error).ok() && on_dead) on_dead(entry, result.error);
      }
      // Otherwise it stays pending and is reclaimed after claim_idle.
      return;
  }
}

absl::StatusOr<int> Consumer::Poll(const Handler& handler, const DeadLetterHook& on_dead) {
  int handled = 0;
  absl::Time now = absl::Now();
  if (now - last_claim_ >= options_.claim_idle / 4) {
    last_claim_ = now;
    GR_ASSIGN_OR_RETURN(std::vector<Entry> claimed, ClaimAbandoned());
    for (const auto& e : claimed) {
      Handle(e, handler, on_dead);
      ++handled;
    }
  }
  GR_ASSIGN_OR_RETURN(std::vector<Entry> fresh, ReadNew());
  for (const auto& e : fresh) {
    Handle(e, handler, on_dead);
    ++handled;
  }
  return handled;
}

void Consumer::Run(const Handler& handler, const std::atomic<bool>& stop,
                   const DeadLetterHook& on_dead) {
  bool grouped = false;
  while (!stop.load()) {
    if (!grouped) grouped = EnsureGroup().ok();
    auto polled = grouped ? Poll(handler, on_dead) : absl::StatusOr<int>(0);
    if (!grouped || !polled.ok()) {
      // Redis is away: wait a little rather than spin.
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
}

// ------------------------------------------------------- IndexedConsumer

namespace {
// On one Redis the blocking read covers the streams known when it began: it
// blocks at most this long, so that a new org's stream is read this soon.
constexpr absl::Duration kNewStreamWait = absl::Milliseconds(50);
}  // namespace

IndexedConsumer::IndexedConsumer(redis::Client* client, ConsumerOptions options,
                                 absl::Duration cluster_poll)
    : client_(client), options_(std::move(options)), cluster_poll_(cluster_poll) {}

Consumer& IndexedConsumer::ConsumerOf(const std::string& stream) {
  for (auto& [name, consumer] : consumers_) {
    if (name == stream) return *consumer;
  }
  ConsumerOptions o = options_;
  o.stream = stream;
  consumers_.emplace_back(stream, std::make_unique<Consumer>(client_, std::move(o)));
  return *consumers_.back().second;
}

absl::Status IndexedConsumer::Refresh() {
  GR_ASSIGN_OR_RETURN(std::vector<std::string> now, IndexedStreams(*client_, options_.stream));
  for (const std::string& stream : now) {
    bool known = std::any_of(consumers_.begin(), consumers_.end(),
                             [&](const auto& c) { return c.first == stream; });
    if (known) continue;
    // From the stream's start: entries written before the group are read.
    ConsumerOptions o = options_;
    o.stream = stream;
    auto consumer = std::make_unique<Consumer>(client_, std::move(o));
    GR_RETURN_IF_ERROR(consumer->EnsureGroup());
    // Joined at once, not at its first entry: XINFO CONSUMERS shows every
    // worker that serves the org's stream.
    GR_RETURN_IF_ERROR(
        client_->Command({"XGROUP", "CREATECONSUMER", stream, options_.group, options_.consumer})
            .status());
    consumers_.emplace_back(stream, std::move(consumer));
  }
  streams_ = std::move(now);
  last_refresh_ = absl::Now();
  return absl::OkStatus();
}

void IndexedConsumer::Forget(const std::string& stream) {
  consumers_.erase(std::remove_if(consumers_.begin(), consumers_.end(),
                                  [&](const auto& c) { return c.first == stream; }),
                   consumers_.end());
  last_refresh_ = absl::InfinitePast();  // Its group is made again first.
}

// Cold reads take at most one entry per stream: they wake a consumer, the
// budgeted reads that follow share the work out.
absl::StatusOr<std::vector<Entry>> IndexedConsumer::ReadNewBlocking() {
  if (!blocking_ || blocking_->broken()) {
    GR_ASSIGN_OR_RETURN(blocking_, client_->OpenDedicated());
    GR_RETURN_IF_ERROR(blocking_->SetTimeout(options_.block + client_->options().command_timeout));
  }
  const int64_t block_ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(std::min(options_.block, kNewStreamWait)));
  redis::Args cmd{"XREADGROUP", "GROUP", options_.group,         options_.consumer, "COUNT",
                  "1",          "BLOCK", absl::StrCat(block_ms), "STREAMS"};
  cmd.insert(cmd.end(), streams_.begin(), streams_.end());
  cmd.insert(cmd.end(), streams_.size(), ">");
  auto reply = blocking_->Command(cmd);
  if (!reply.ok()) {
    // A stream lost its group (deleted, Redis lost its data): made again.
    if (absl::StrContains(reply.status().message(), "NOGROUP")) {
      consumers_.clear();
      last_refresh_ = absl::InfinitePast();
    }
    return reply.status();
  }
  std::vector<Entry> out;
  for (size_t i = 0; i < reply->Size(); ++i) {
    std::vector<Entry> part = ParseEntries((*reply)[i][1], (*reply)[i][0].AsString());
    std::move(part.begin(), part.end(), std::back_inserter(out));
  }
  return out;
}

absl::StatusOr<std::vector<Entry>> IndexedConsumer::ReadNewPipelined() {
  std::vector<redis::Args> cmds;
  cmds.reserve(streams_.size());
  for (const std::string& stream : streams_) {
    cmds.push_back({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", "1",
                    "STREAMS", stream, ">"});
  }
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, client_->Pipeline(cmds));
  std::vector<Entry> out;
  absl::Status first_error;
  for (size_t i = 0; i < replies.size(); ++i) {
    const redis::Reply& r = replies[i];
    if (r.IsError()) {
      // One stream's trouble does not hold up the others' entries.
      if (absl::StrContains(r.Str(), "NOGROUP")) Forget(streams_[i]);
      if (first_error.ok()) first_error = r.ErrorStatus();
      continue;
    }
    if (r.IsNil() || r.Size() == 0) continue;
    std::vector<Entry> part = ParseEntries(r[0][1], streams_[i]);
    std::move(part.begin(), part.end(), std::back_inserter(out));
  }
  if (out.empty() && !first_error.ok()) return first_error;
  return out;
}

// While there is work: at most `batch` entries in all, stream by stream
// from a point that moves on each time, so that the consumers share a
// burst and every org is served in turn.
absl::StatusOr<std::vector<Entry>> IndexedConsumer::ReadBudgeted() {
  std::vector<Entry> out;
  absl::Status first_error;
  const size_t n = streams_.size();
  const size_t budget = static_cast<size_t>(std::max(1, options_.batch));
  const size_t start = rotation_++;
  for (size_t k = 0; k < n && out.size() < budget; ++k) {
    const std::string& stream = streams_[(start + k) % n];
    auto reply =
        client_->Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                          absl::StrCat(budget - out.size()), "STREAMS", stream, ">"});
    if (!reply.ok()) {
      if (absl::StrContains(reply.status().message(), "NOGROUP")) Forget(stream);
      if (first_error.ok()) first_error = reply.status();
      continue;
    }
    if (reply->IsNil() || reply->Size() == 0) continue;
    std::vector<Entry> part = ParseEntries((*reply)[0][1], stream);
    std::move(part.begin(), part.end(), std::back_inserter(out));
  }
  if (out.empty() && !first_error.ok()) return first_error;
  return out;
}

absl::StatusOr<std::vector<Entry>> IndexedConsumer::ReadNew() {
  if (hot_) {
    GR_ASSIGN_OR_RETURN(std::vector<Entry> taken, ReadBudgeted());
    if (!taken.empty()) return taken;
    hot_ = false;
  }
  GR_ASSIGN_OR_RETURN(std::vector<Entry> woken,
                      client_->cluster() ? ReadNewPipelined() : ReadNewBlocking());
  hot_ = !woken.empty();
  return woken;
}

absl::StatusOr<int> IndexedConsumer::Poll(const Handler& handler, const DeadLetterHook& on_dead) {
  // The index is read again at most every kNewStreamWait while busy.
  if (streams_.empty() || absl::Now() - last_refresh_ >= kNewStreamWait) {
    GR_RETURN_IF_ERROR(Refresh());
  }
  if (streams_.empty()) {
    // Nothing to block on yet: look at the index again soon.
    absl::SleepFor(std::min(options_.block, client_->cluster() ? cluster_poll_ : kNewStreamWait));
    return 0;
  }
  int handled = 0;
  absl::Time now = absl::Now();
  if (now - last_claim_ >= options_.claim_idle / 4) {
    last_claim_ = now;
    for (const std::string& stream : streams_) {
      Consumer& consumer = ConsumerOf(stream);
      GR_ASSIGN_OR_RETURN(std::vector<Entry> claimed, consumer.ClaimAbandoned());
      for (const Entry& e : claimed) {
        consumer.Handle(e, handler, on_dead);
        ++handled;
      }
    }
  }
  GR_ASSIGN_OR_RETURN(std::vector<Entry> fresh, ReadNew());
  for (const Entry& e : fresh) {
    ConsumerOf(e.stream).Handle(e, handler, on_dead);
    ++handled;
  }
  if (handled == 0 && client_->cluster()) absl::SleepFor(cluster_poll_);
  return handled;
}

void IndexedConsumer::Run(const Handler& handler, const std::atomic<bool>& stop,
                          const DeadLetterHook& on_dead) {
  while (!stop.load()) {
    if (!Poll(handler, on_dead).ok()) {
      // Redis is away: wait a little rather than spin.
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
}

}  // namespace govreport::streams
