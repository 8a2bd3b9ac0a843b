#include "events/store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status.h"

namespace govreport::events {
namespace {

absl::StatusOr<Cursor> StoredCursor(absl::string_view id) {
  auto c = ParseCursor(id);
  if (!c.ok()) {
    return errors::Internal(absl::StatusCode::kDataLoss,
                            absl::StrCat("event log: entry id '", id, "' is not ms-seq"));
  }
  return c;
}

}  // namespace

absl::StatusOr<LogInfo> Store::Info(const std::string& org) {
  std::string key = StreamKey(org);
  // XINFO of a key that does not exist is an error reply; EXISTS first, in
  // the same round trip, tells it from a real error.
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline({{"EXISTS", key}, {"XINFO", "STREAM", key}}));
  GR_RETURN_IF_ERROR(replies[0].ErrorStatus());
  LogInfo info;
  if (replies[0].Int() == 0) return info;
  GR_RETURN_IF_ERROR(replies[1].ErrorStatus());
  const redis::Reply& r = replies[1];
  for (size_t i = 0; i + 1 < r.Size(); i += 2) {
    absl::string_view name = r[i].Str();
    if (name == "last-generated-id") {
      GR_ASSIGN_OR_RETURN(info.last, StoredCursor(r[i + 1].Str()));
    } else if (name == "max-deleted-entry-id") {
      GR_ASSIGN_OR_RETURN(info.max_deleted, StoredCursor(r[i + 1].Str()));
    } else if (name == "recorded-first-entry-id") {
      GR_ASSIGN_OR_RETURN(info.first, StoredCursor(r[i + 1].Str()));
    } else if (name == "length") {
      info.length = r[i + 1].Int();
    } else if (name == "entries-added") {
      info.entries_added = r[i + 1].Int();
    }
  }
  return info;
}

absl::StatusOr<std::unique_ptr<Store::Reader>> Store::OpenReader(const std::string& org,
                                                                 absl::Duration max_block) {
  // In a cluster, to the master of the org stream's slot.
  GR_ASSIGN_OR_RETURN(auto conn, redis_->OpenDedicated(StreamKey(org)));
  // The socket must outwait the BLOCK, or an idle read would look like a
  // dead connection.
  GR_RETURN_IF_ERROR(conn->SetTimeout(max_block + redis_->options().command_timeout));
  return std::unique_ptr<Reader>(new Reader(std::move(conn), StreamKey(org)));
}

absl::StatusOr<std::vector<StoredEvent>> Store::Reader::Read(const Cursor& after, int count,
                                                             absl::Duration block) {
  int64_t block_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(block));
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      conn_->Command({"XREAD", "COUNT", absl::StrCat(count), "BLOCK",
                                      absl::StrCat(block_ms), "STREAMS", key_, after.ToString()}));
  std::vector<StoredEvent> out;
  if (r.IsNil()) return out;  // Nothing came within the block.
  // [[key, [[id, [field, value, ...]], ...]]]
  redis::ReplyView entries = r[0][1];
  out.reserve(entries.Size());
  for (size_t i = 0; i < entries.Size(); ++i) {
    StoredEvent e;
    e.id = entries[i][0].AsString();
    redis::ReplyView fields = entries[i][1];
    for (size_t f = 0; f + 1 < fields.Size(); f += 2) {
      if (fields[f].Str() == kKindField) {
        if (!absl::SimpleAtoi(fields[f + 1].Str(), &e.kind)) e.kind = 0;
      } else if (fields[f].Str() == kEventField) {
        e.event = fields[f + 1].AsString();
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace govreport::events
