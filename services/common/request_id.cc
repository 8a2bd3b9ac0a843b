#include "common/request_id.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/stored_proto.h"

namespace govreport::request_id {

absl::Status Validate(absl::string_view id, absl::string_view field) {
  if (id.size() > kMaxLength) {
    return errors::InvalidField(field, "REQUEST_ID_INVALID",
                                absl::StrCat(id.size(), " characters, at most ", kMaxLength),
                                absl::StrCat("最长 ", kMaxLength, " 个字符"));
  }
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) {
      return errors::InvalidField(
          field, "REQUEST_ID_INVALID",
          "only printable ASCII characters without spaces are allowed (a UUID is fine)",
          "只能包含不含空格的可打印 ASCII 字符（可使用 UUID）");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBatch(absl::Span<const std::string> ids, absl::string_view prefix) {
  absl::flat_hash_map<absl::string_view, size_t> first;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string field = absl::StrCat(prefix, "[", i, "].request_id");
    if (absl::Status s = Validate(ids[i], field); !s.ok()) return s;
    if (ids[i].empty()) continue;
    auto [it, inserted] = first.emplace(ids[i], i);
    if (!inserted) {
      return errors::InvalidField(field, "REQUEST_ID_DUPLICATED",
                                  absl::StrCat("'", ids[i], "' is also ", prefix, "[", it->second,
                                               "].request_id; each item needs its own"),
                                  absl::StrCat("与 ", prefix, "[", it->second,
                                               "].request_id 重复，每一项需要各自的 request_id"));
    }
  }
  return absl::OkStatus();
}

std::string Key(absl::string_view org, absl::string_view id) {
  // Without an id the fingerprint is empty and scripts never touch the
  // key, so sharing it with the id "-" is harmless.
  return absl::StrCat("gr:{", org, "}:rq:", id.empty() ? "-" : id);
}

std::string Fingerprint(absl::string_view method, absl::string_view target,
                        absl::string_view caller, const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> content(request.New());
  content->CopyFrom(request);
  const google::protobuf::FieldDescriptor* field =
      content->GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr) content->GetReflection()->ClearField(content.get(), field);
  std::string bytes = SerializeDeterministic(*content);
  // Lengths first, so that no two different calls join to the same text.
  std::string call = absl::StrCat(method.size(), ":", method, target.size(), ":", target,
                                  caller.size(), ":", caller, bytes);
  return Sha256Hex(call).substr(0, 32);
}

std::string Fingerprint(absl::string_view method, absl::string_view target,
                        absl::string_view caller, std::initializer_list<absl::string_view> parts) {
  std::string content;
  for (absl::string_view part : parts) absl::StrAppend(&content, part.size(), ":", part);
  std::string call = absl::StrCat(method.size(), ":", method, target.size(), ":", target,
                                  caller.size(), ":", caller, content);
  return Sha256Hex(call).substr(0, 32);
}

Call CallOf(absl::string_view method, absl::string_view target, absl::string_view caller,
            const google::protobuf::Message& request) {
  Call call;
  const google::protobuf::FieldDescriptor* field =
      request.GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr) call.id = request.GetReflection()->GetString(request, field);
  call.fingerprint = Fingerprint(method, target, caller, request);
  return call;
}

redis::Args ReadPriorCommand(absl::string_view org, absl::string_view id) {
  return {"HMGET", Key(org, id), "fp", "result"};
}

std::optional<Prior> PriorFromReply(const redis::Reply& reply) {
  if (reply[0].IsNil()) return std::nullopt;
  return Prior{reply[0].AsString(), reply[1].AsString()};
}

absl::StatusOr<std::optional<Prior>> ReadPrior(redis::Client& redis, absl::string_view org,
                                               absl::string_view id) {
  if (id.empty()) return std::optional<Prior>();
  absl::StatusOr<redis::Reply> reply = redis.Command(ReadPriorCommand(org, id));
  if (!reply.ok()) return reply.status();
  if (absl::Status s = reply->ErrorStatus(); !s.ok()) return s;
  return PriorFromReply(*reply);
}

absl::StatusOr<std::string> FirstResult(const Prior& prior, const Call& call) {
  if (prior.fingerprint != call.fingerprint) return Reused(call.id);
  return prior.result;
}

absl::Status Reused(absl::string_view id) {
  return errors::InvalidField(
      "request_id", "REQUEST_ID_REUSED",
      absl::StrCat("'", id,
                   "' was already used for a different call (another method, resource, caller or "
                   "content); use a new request_id for a new call"),
      "该 request_id 已用于另一个调用（方法、资源、调用者或内容不同），新调用请使用新的 "
      "request_id");
}

std::string RetentionSeconds(absl::Duration retention) {
  return absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(retention)));
}

const char kLuaPrelude[] = R"lua(
local function request_prior(key, fp)
  if fp == '' then return nil end
  local p = redis.call('HMGET', key, 'fp', 'result')
  if not p[1] then return nil end
  if p[1] ~= fp then return {'REQUEST_REUSED'} end
  return {'REPLAYED', p[2]}
end
local function request_remember(key, fp, result, ttl)
  if fp == '' then return end
  redis.call('HSET', key, 'fp', fp, 'result', result)
  redis.call('EXPIRE', key, ttl)
end
)lua";

}  // namespace govreport::request_id
