#include "records/domain.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/markup.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/stored_proto.h"
#include "records/period.h"

namespace govreport::records {
namespace {

// Org fields are printed into the report and its DOCX, where XML allows no
// C0 control character but tab and line breaks: refuse them here, at the
// edge, rather than let a signed report fail to publish later.
absl::Status OrgText(absl::string_view field, const std::string& value) {
  GR_RETURN_IF_ERROR(CheckTextField(field, value));
  return CheckDocumentText(field, value);
}

absl::Status ValidateOrgText(const pb::Org& org) {
  GR_RETURN_IF_ERROR(OrgText("org.display_name", org.display_name()));
  GR_RETURN_IF_ERROR(OrgText("org.short_name", org.short_name()));
  GR_RETURN_IF_ERROR(OrgText("org.city", org.city()));
  GR_RETURN_IF_ERROR(OrgText("org.district", org.district()));
  for (const auto& [k, v] : org.facts()) {
    GR_RETURN_IF_ERROR(OrgText(absl::StrCat("org.facts[", k, "]"), v));
  }
  return absl::OkStatus();
}

absl::Status ValidateParent(const pb::Org& org) {
  if (org.parent().empty()) return absl::OkStatus();
  return ParseOrgName(org.parent(), "org.parent").status();
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool Declares(const pb::ActivityType& type, const std::string& quantity) {
  const auto& req = type.required_quantities();
  const auto& opt = type.optional_quantities();
  return std::find(req.begin(), req.end(), quantity) != req.end() ||
         std::find(opt.begin(), opt.end(), quantity) != opt.end();
}

absl::Status ValidateQuantities(const pb::ActivityType& type, const pb::ActivityRecord& r) {
  for (const auto& q : type.required_quantities()) {
    if (!r.quantities().contains(q)) {
      return errors::InvalidField(absl::StrCat("activity.quantities[", q, "]"), "QUANTITY_REQUIRED",
                                  absl::StrCat("required for type '", r.type(), "'"),
                                  absl::StrCat("活动类型 '", r.type(), "' 必须填写此数量"));
    }
  }
  for (const auto& [q, v] : r.quantities()) {
    if (!Declares(type, q)) {
      return errors::InvalidField(absl::StrCat("activity.quantities[", q, "]"), "UNKNOWN_QUANTITY",
                                  absl::StrCat("type '", r.type(), "' has no such quantity"),
                                  absl::StrCat("活动类型 '", r.type(), "' 没有此数量"));
    }
    if (v < 0) {
      return errors::InvalidField(absl::StrCat("activity.quantities[", q, "]"), "NEGATIVE_QUANTITY",
                                  absl::StrCat(v, " is negative"), "数量不能为负数");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDimensions(const pb::ActivityType& type, const pb::ActivityRecord& r) {
  for (const auto& d : type.dimensions()) {
    if (d.required() && !r.dimensions().contains(d.key())) {
      return errors::InvalidField(absl::StrCat("activity.dimensions[\"", d.key(), "\"]"),
                                  "DIMENSION_REQUIRED",
                                  absl::StrCat("required for type '", r.type(), "'"),
                                  absl::StrCat("活动类型 '", r.type(), "' 必须填写此项"));
    }
  }
  // In key order, so the first problem named is the same on every call.
  std::map<std::string, std::string> sorted(r.dimensions().begin(), r.dimensions().end());
  for (const auto& [k, v] : sorted) {
    std::string field = absl::StrCat("activity.dimensions[\"", k, "\"]");
    const pb::Dimension* d = FindDimension(type, k);
    if (d == nullptr) {
      std::vector<std::string> keys;
      for (const auto& one : type.dimensions()) keys.push_back(one.key());
      return errors::InvalidField(
          field, "UNKNOWN_DIMENSION",
          absl::StrCat("type '", r.type(), "' has no such dimension (its dimensions: ",
                       keys.empty() ? "none" : absl::StrJoin(keys, ", "), ")"),
          absl::StrCat("活动类型 '", r.type(), "' 没有此分类项"));
    }
    if (absl::Status st = CheckDimensionValue(v); !st.ok()) {
      return errors::InvalidField(field, "INVALID_DIMENSION_VALUE",
                                  absl::StrCat("'", v, "' ", st.message()),
                                  "分类值不正确：应为 1 至 64 字节，不含控制字符及 | & =");
    }
    if (!DimensionAllows(*d, v)) {
      return errors::InvalidField(
          field, "DIMENSION_VALUE_NOT_ALLOWED",
          absl::StrCat("'", v, "' is not a value of '", k,
                       "' (allowed: ", absl::StrJoin(d->values(), ", "), ")"),
          absl::StrCat("'", v, "' 不是允许的取值：", absl::StrJoin(d->values(), "、")));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePersons(const pb::ActivityType& type, const pb::ActivityRecord& r,
                             int max_persons) {
  if (type.persons_required() && r.persons().empty()) {
    return errors::InvalidField("activity.persons", "PERSONS_REQUIRED",
                                absl::StrCat("type '", r.type(), "' must name the persons"),
                                absl::StrCat("活动类型 '", r.type(), "' 必须列出参加人员"));
  }
  if (max_persons > 0 && r.persons_size() > max_persons) {
    return errors::InvalidField(
        "activity.persons", "TOO_MANY_PERSONS",
        absl::StrCat(r.persons_size(), " persons, at most ", max_persons, " per record"),
        absl::StrCat("每条记录最多 ", max_persons, " 名人员"));
  }
  for (const auto& p : r.persons()) {
    if (p.empty() || p.size() > 128) {
      return errors::InvalidField("activity.persons", "INVALID_PERSON_ID",
                                  "each person id must be 1..128 bytes",
                                  "每个人员标识必须为 1 至 128 字节");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRecordTexts(const pb::ActivityRecord& r) {
  GR_RETURN_IF_ERROR(CheckTextField("activity.title", r.title()));
  GR_RETURN_IF_ERROR(CheckTextField("activity.department", r.department()));
  GR_RETURN_IF_ERROR(CheckTextField("activity.note", r.note()));
  GR_RETURN_IF_ERROR(CheckTextField("activity.source_system", r.source_system()));
  GR_RETURN_IF_ERROR(CheckTextField("activity.external_id", r.external_id()));
  if (r.external_id().empty() != r.source_system().empty()) {
    return errors::InvalidField("activity.external_id", "EXTERNAL_ID_INCOMPLETE",
                                "source_system and external_id go together",
                                "source_system 与 external_id 必须同时填写");
  }
  for (int i = 0; i < r.attachments_size(); ++i) {
    if (!IsHex64(r.attachments(i).sha256())) {
      return errors::InvalidField(absl::StrCat("activity.attachments[", i, "].sha256"),
                                  "INVALID_DIGEST", "64 lower-case hex digits",
                                  "必须是 64 位小写十六进制数字");
    }
    GR_RETURN_IF_ERROR(CheckTextField("activity.attachments.uri", r.attachments(i).uri()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTextField(absl::string_view field, absl::string_view value) {
  if (value.size() > kMaxText) {
    return errors::InvalidField(field, "TEXT_TOO_LONG",
                                absl::StrCat(value.size(), " bytes, at most ", kMaxText),
                                absl::StrCat("最长 ", kMaxText, " 字节"));
  }
  return absl::OkStatus();
}

absl::Status ValidateActivity(const CompiledProfile& profile, const pb::ActivityRecord& r,
                              int max_persons) {
  if (r.type().empty()) {
    return errors::InvalidField("activity.type", "FIELD_REQUIRED", "must be set", "必须填写");
  }
  const pb::ActivityType* type = profile.FindType(r.type());
  if (type == nullptr) {
    return errors::InvalidField(
        "activity.type", "UNKNOWN_ACTIVITY_TYPE",
        absl::StrCat("unknown activity type '", r.type(), "' (known: ", profile.KnownTypes(), ")"),
        absl::StrCat("未知的活动类型 '", r.type(), "'"));
  }
  auto date = ParseDate(r.occurred_on());
  if (!date.ok()) {
    return errors::InvalidField("activity.occurred_on", "INVALID_DATE", date.status().message(),
                                "日期不正确，应为 YYYY-MM-DD 格式的日历日期");
  }
  GR_RETURN_IF_ERROR(ValidateQuantities(*type, r));
  GR_RETURN_IF_ERROR(ValidateDimensions(*type, r));
  GR_RETURN_IF_ERROR(ValidatePersons(*type, r, max_persons));
  return ValidateRecordTexts(r);
}

absl::Status ValidateNewOrg(absl::string_view org_id, const pb::Org& org) {
  if (!IsValidId(org_id)) {
    return errors::InvalidField(
        "org_id", "INVALID_ORG_ID",
        absl::StrCat("'", org_id, "' must be 1-63 lower-case letters, digits or '-'"),
        "必须为 1 至 63 个小写字母、数字或 '-'");
  }
  if (org.display_name().empty()) {
    return errors::InvalidField("org.display_name", "FIELD_REQUIRED", "must be set", "必须填写");
  }
  GR_RETURN_IF_ERROR(ValidateOrgText(org));
  return ValidateParent(org);
}

absl::StatusOr<pb::Org> ApplyOrgUpdate(const pb::Org& current, const pb::UpdateOrgRequest& req) {
  static const std::set<std::string> kPaths = {"display_name",
                                               "short_name",
                                               "city",
                                               "district",
                                               "parent",
                                               "facts",
                                               "figures_shared_with_parent"};
  std::set<std::string> mask(req.update_mask().begin(), req.update_mask().end());
  for (const auto& p : mask) {
    if (!kPaths.count(p)) {
      return errors::InvalidField(
          "update_mask", "UNKNOWN_MASK_PATH",
          absl::StrCat("unknown path '", p,
                       "' (paths: display_name, short_name, city, district, parent, facts, "
                       "figures_shared_with_parent)"),
          absl::StrCat("未知的字段路径 '", p, "'"));
    }
  }
  auto want = [&](const char* p) { return mask.empty() || mask.count(p); };
  const pb::Org& in = req.org();
  pb::Org next = current;
  if (want("display_name")) {
    if (in.display_name().empty()) {
      return errors::InvalidField("org.display_name", "FIELD_REQUIRED", "must not be empty",
                                  "不能为空");
    }
    next.set_display_name(in.display_name());
  }
  if (want("short_name")) next.set_short_name(in.short_name());
  if (want("city")) next.set_city(in.city());
  if (want("district")) next.set_district(in.district());
  if (want("parent")) next.set_parent(in.parent());
  if (want("facts")) *next.mutable_facts() = in.facts();
  // A grant names no parent of its own: it was given to the parent of the
  // day, so a move clears it unless the same update gives it again.
  if (next.parent() != current.parent()) next.set_figures_shared_with_parent(false);
  if (want("figures_shared_with_parent")) {
    next.set_figures_shared_with_parent(in.figures_shared_with_parent());
  }
  GR_RETURN_IF_ERROR(ValidateOrgText(next));
  GR_RETURN_IF_ERROR(ValidateParent(next));
  return next;
}

absl::StatusOr<pb::ActivityRecord> ApplyAmendment(const CompiledProfile& profile,
                                                  const pb::ActivityRecord& current,
                                                  const pb::ActivityRecord& amended,
                                                  int max_persons) {
  if ((!amended.source_system().empty() && amended.source_system() != current.source_system()) ||
      (!amended.external_id().empty() && amended.external_id() != current.external_id())) {
    return errors::WithField(
        errors::WithReason(absl::InvalidArgumentError(
                               "activity.source_system/external_id: cannot change on amend"),
                           "EXTERNAL_ID_IMMUTABLE", "修改记录时不能更改 source_system/external_id"),
        "activity.source_system");
  }
  pb::ActivityRecord next = current;
  next.set_type(amended.type());
  next.set_occurred_on(amended.occurred_on());
  next.set_title(amended.title());
  next.set_department(amended.department());
  *next.mutable_quantities() = amended.quantities();
  *next.mutable_dimensions() = amended.dimensions();
  *next.mutable_persons() = amended.persons();
  *next.mutable_attachments() = amended.attachments();
  next.set_note(amended.note());
  GR_RETURN_IF_ERROR(ValidateActivity(profile, next, max_persons));
  return next;
}

std::string ActivityName(absl::string_view org_id, absl::string_view id) {
  return absl::StrCat("orgs/", org_id, "/activities/", id);
}

std::string Contribution(const pb::ActivityRecord& r) {
  // Type and date are validated (snake_case key, yyyy-mm-dd): no quoting.
  std::string out = absl::StrCat(R"({"t":")", r.type(), R"(","d":")", r.occurred_on(), R"(","v":)",
                                 r.voided() ? 1 : 0, R"(,"q":{)");
  // Sorted for a stable encoding (the map's order is not).
  std::map<std::string, int64_t> q(r.quantities().begin(), r.quantities().end());
  bool first = true;
  for (const auto& [k, v] : q) {
    // Values as strings: Lua numbers are doubles and would print 1e+15.
    absl::StrAppend(&out, first ? "" : ",", "\"", k, "\":\"", v, "\"");
    first = false;
  }
  // Dimension values are checked (no control characters): JSON-quoted.
  out += "},\"x\":{";
  std::map<std::string, std::string> x(r.dimensions().begin(), r.dimensions().end());
  first = true;
  for (const auto& [k, v] : x) {
    absl::StrAppend(&out, first ? "" : ",", "\"", k, "\":");
    JsonQuoteTo(v, &out);
    first = false;
  }
  out += "},\"p\":[";
  std::set<std::string> persons(r.persons().begin(), r.persons().end());
  first = true;
  for (const auto& p : persons) {
    if (!first) out += ",";
    JsonQuoteTo(p, &out);
    first = false;
  }
  out += "]}";
  return out;
}

std::string ContentHash(const pb::ActivityRecord& r) {
  pb::ActivityRecord c = r;
  c.clear_name();
  c.clear_recorded_by();
  c.clear_revision();
  c.clear_create_time();
  c.clear_update_time();
  c.clear_voided();
  c.clear_void_reason();
  c.clear_change_reason();
  c.clear_create_sequence();
  c.clear_change_sequence();
  return Sha256Hex(SerializeDeterministic(c)).substr(0, 32);
}

std::string ExternalKey(const pb::ActivityRecord& r) {
  if (r.external_id().empty()) return "";
  return absl::StrCat(r.source_system(), "\x1f", r.external_id());
}

absl::StatusOr<ActivityOrder> ParseActivityOrder(const pb::ListActivitiesRequest& req) {
  const std::string& o = req.order_by();
  GR_ASSIGN_OR_RETURN(bool by_change, InChangeOrder(o, req.changed_after()));
  if (by_change) return ActivityOrder::kChange;
  if (o.empty() || o == "create_sequence") return ActivityOrder::kCreate;
  if (o == "occurred_on") return ActivityOrder::kDate;
  return absl::InvalidArgumentError(
      absl::StrCat("order_by: '", o,
                   "' is not an order of this list (\"create_sequence\", the default; "
                   "\"occurred_on\"; \"change_sequence\")"));
}

bool MatchesListing(const pb::ListActivitiesRequest& req, const pb::ActivityRecord& rec) {
  return (req.include_voided() || !rec.voided()) &&
         (req.type().empty() || rec.type() == req.type()) &&
         (req.from_date().empty() || rec.occurred_on() >= req.from_date()) &&
         (req.to_date().empty() || rec.occurred_on() <= req.to_date()) &&
         (req.department().empty() || rec.department() == req.department()) &&
         (req.source_system().empty() || rec.source_system() == req.source_system());
}

}  // namespace govreport::records
