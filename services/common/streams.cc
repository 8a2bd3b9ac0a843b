#include "common/streams.h"

#include <unistd.h>

#include <algorithm>
#include <thread>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status.h"

namespace govreport::streams {
namespace {

// Parses [[id, [k, v, k, v...]], ...]; deleted entries have a nil body.
std::vector<Entry> ParseEntries(redis::ReplyView list) {
  std::vector<Entry> out;
  out.reserve(list.Size());
  for (size_t i = 0; i < list.Size(); ++i) {
    redis::ReplyView item = list[i];
    if (item.Size() < 2 || item[1].IsNil()) continue;
    Entry e;
    e.id = item[0].AsString();
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
  return ParseEntries((*reply)[0][1]);
}

absl::StatusOr<std::vector<Entry>> Consumer::ClaimAbandoned() {
  GR_ASSIGN_OR_RETURN(
      redis::Reply reply,
      client_->Command({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                        absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle)), "0-0",
                        "COUNT", absl::StrCat(options_.batch)}));
  std::vector<Entry> entries = ParseEntries(reply[1]);
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

}  // namespace govreport::streams
