// Redis layout of the templates service and every call it makes. A scope is
// an org's prefix gr:{org}: or the shared scope gr:{_shared}: ('_' is not
// allowed in org ids, so it cannot collide):
//   {scope}tpl:{id}           hash {latest: n, r1 .. rn: Template blobs}
//   {scope}tpls               sorted set of the scope's template ids (score 0)
//   gr:{org|_shared}:rq:{id}  request replay: the revision a call wrote
//                             (common/request_id.h, 7 days)
// Every write is StoreTemplateScript (lua_scripts.h).
#ifndef GOVREPORT_TEMPLATES_SERVICE_STORE_H_
#define GOVREPORT_TEMPLATES_SERVICE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/outcome.h"
#include "common/redis.h"
#include "common/request_id.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/service/domain.h"

namespace govreport::templates {

enum class WriteMode { kCreate, kUpdate };

// kOk: written as `revision`; kReplayed: the request id wrote `revision`
// before, nothing written; kRequestReused: the id names another call;
// kExists: create of an existing template; kNotFound: update of a missing
// one; kStale: the latest revision is `revision`, not the expected one.
struct WriteResult {
  Outcome outcome = Outcome::kOk;
  int64_t revision = 0;
};

class Store {
 public:
  explicit Store(redis::Client* redis);

  static std::string Scope(const std::string& org);
  static std::string TemplateKey(const std::string& org, const std::string& id);
  static std::string IndexKey(const std::string& org);
  static std::string RequestKey(const std::string& org, const std::string& request_id);

  // NOT_FOUND naming the template when it does not exist.
  absl::StatusOr<int64_t> LatestRevision(const std::string& org, const std::string& id);
  // ref.revision >= 1. NOT_FOUND naming the revision; DATA_LOSS when the
  // stored blob does not parse.
  absl::StatusOr<v1::Template> ReadRevision(const TemplateRef& ref);

  // In one pipelined round trip (none for no refs): the latest revision of
  // each ref (its revision is ignored), 0 where there is no such template.
  absl::StatusOr<std::vector<int64_t>> LatestRevisions(const std::vector<TemplateRef>& refs);
  // In one pipelined round trip: each ref's revision (>= 1), std::nullopt
  // where it does not exist; DATA_LOSS when one does not parse.
  absl::StatusOr<std::vector<std::optional<v1::Template>>> ReadRevisions(
      const std::vector<TemplateRef>& refs);

  // Up to `limit` ids of the scope, in id order, after `after` ("" from
  // the first).
  absl::StatusOr<std::vector<std::string>> ListIds(const std::string& org, const std::string& after,
                                                   int64_t limit);

  // Writes `t` as the next revision of `ref`'s template, guarded by the
  // call's request id (none when empty) and, for an update, by the
  // expected latest revision.
  absl::StatusOr<WriteResult> Write(WriteMode mode, const TemplateRef& ref, const v1::Template& t,
                                    int64_t expected, const request_id::Call& call);

  // Which templates extend a parent ({{< id}}), so that an update of the
  // parent can check what it breaks. A child of the name `id` is noted in
  // the shared scope's set and, for an org's template, in its org's too
  // (the name resolves to the org's own template first). Noted before the
  // child is written, so a crash between leaves an extra member, never a
  // missing one; Children's callers check each member's latest text.
  static std::string ExtendsKey(const std::string& org, const std::string& id);
  absl::Status NoteChild(const TemplateRef& child, const std::vector<std::string>& parent_ids);
  absl::StatusOr<std::vector<TemplateRef>> Children(const std::string& org, const std::string& id);
  // The child no longer extends `id`.
  absl::Status ForgetChild(const std::string& org, const std::string& id, const TemplateRef& child);

 private:
  redis::Client* redis_;
};

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_STORE_H_
